package main

import (
	"fmt"
	"log"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// memTarget is a server whose memory per live session is measured: n
// sessions are created through base/setup (no cookie: each request makes
// a new session) and size() is read before and after.
type memTarget struct {
	name    string
	base    string
	host    string
	cookie  string   // the session cookie's name
	headers []string // sent with every request
	scale   int      // sessions × this many (RSS needs a larger difference to show)
	what    string   // what size() measures
	size    func() int64
}

var memTargets []memTarget

type memRow struct {
	name, what    string
	sessions      int
	perSession    float64 // bytes
	cookieBytes   int     // the Set-Cookie value's length
	failed        int
	before, after int64
}

func memoryPerSession(o options, _ string) []memRow {
	var rows []memRow
	for _, t := range memTargets {
		before := t.size()
		var ok, failed atomic.Int64
		var cookieLen atomic.Int64
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range 16 {
			wg.Go(func() {
				for next.Add(1) <= int64(o.sessions*max(1, t.scale)) {
					resp, _, err := get(t.base+"/setup", t.host, t.headers)
					if err != nil || resp.StatusCode != 200 {
						failed.Add(1)
						continue
					}
					for _, c := range resp.Cookies() {
						if c.Name == t.cookie {
							ok.Add(1)
							cookieLen.Store(int64(len(c.Value)))
							break
						}
					}
				}
			})
		}
		wg.Wait()
		after := t.size()
		n := ok.Load()
		r := memRow{name: t.name, what: t.what, sessions: int(n), failed: int(failed.Load()), cookieBytes: int(cookieLen.Load()),
			before: before, after: after}
		if n > 0 {
			r.perSession = float64(after-before) / float64(n)
		}
		log.Printf("memory: %s: %d sessions, %s %d -> %d", t.name, n, t.what, before, after)
		rows = append(rows, r)
	}
	return rows
}

// sqliteBytes is the logical size of an SQLite database (WAL included):
// pages in use times the page size, as a reader sees it.
func sqliteBytes(path string) func() int64 {
	return func() int64 {
		out, err := exec.Command("sqlite3", "-readonly", path,
			"SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size());").Output()
		if err != nil {
			log.Printf("sqlite3 %s: %v", path, err)
			return 0
		}
		a, b, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
		pages, _ := strconv.ParseInt(a, 10, 64)
		size, _ := strconv.ParseInt(b, 10, 64)
		return pages * size
	}
}

// redisBytes is INFO memory's used_memory of the harness's own redis-server.
func redisBytes(addr string) func() int64 {
	return func() int64 {
		host, port, _ := strings.Cut(addr, ":")
		out, err := exec.Command("redis-cli", "-h", host, "-p", port, "INFO", "memory").Output()
		if err != nil {
			log.Printf("redis-cli: %v", err)
			return 0
		}
		for l := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
}

// postgresBytes is the size of every user table of the database
// (indexes and TOAST included).
func postgresBytes(url string) func() int64 {
	return func() int64 {
		out, err := exec.Command("psql", url, "-Atqc",
			"SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_stat_user_tables").Output()
		if err != nil {
			log.Printf("psql: %v", err)
			return 0
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		return n
	}
}

// rssBytes is a process's resident set.
func rssBytes(pid int, tree bool) func() int64 {
	return func() int64 { return rss(pid, tree) }
}

func zero() int64 { return 0 }

func fmtBytes(b float64) string {
	switch {
	case b >= 10<<10:
		return fmt.Sprintf("%.1f KiB", b/1024)
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}
