//go:build race

package sqlite_test

// raceEnabled: modernc.org/sqlite is C translated to Go, and the race
// detector instruments all of it (about 30 times slower), so the largest
// tests shrink under -race.
const raceEnabled = true
