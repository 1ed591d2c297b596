package session

// GCBacklogger is implemented by stores whose GC can fall behind the rate
// at which records expire (store/sqlite, store/postgres; store/sealed
// passes it through). The gateway exports it as metrics. Records past
// their end are refused on load whatever the backlog (the Manager judges
// expiry), so a backlog costs space, not safety.
type GCBacklogger interface {
	// GCBacklog reports, as of the end of the last finished GC: how many
	// records had expired but were still stored, and whether GC is falling
	// behind (its last sweep took longer than the span of expiry times it
	// covered, so each sweep has more to delete than the one before).
	GCBacklog() (expired int, behind bool)
}
