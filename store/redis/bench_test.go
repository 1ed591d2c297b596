package redis_test

import (
	"context"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// benchModes are the stores a benchmark runs on: the machine's Redis with
// the single-node protocol and with the Cluster protocol, and (unless
// -short) a 3-master cluster of the benchmark's own.
func benchModes(b *testing.B) []struct {
	name string
	s    *redis.Store
} {
	single, _, _ := newStore(b, false)
	proto, _, _ := newStore(b, true)
	modes := []struct {
		name string
		s    *redis.Store
	}{{"single", single}, {"cluster-protocol", proto}}
	if !testing.Short() {
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: startCluster(b), ContextTimeoutEnabled: true})
		b.Cleanup(func() { c.Close() })
		s, err := redis.New(redis.Config{Client: c})
		if err != nil {
			b.Fatal(err)
		}
		modes = append(modes, struct {
			name string
			s    *redis.Store
		}{"cluster", s})
	}
	return modes
}

func benchRecord(b *testing.B, s *redis.Store) *session.Record {
	r := storetest.NewRecord()
	r.User = "bench"
	r.Data = map[string]string{"cart": "1,2,3", "theme": "dark", "csrf": "0123456789abcdef0123456789abcdef"}
	if err := s.Create(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkLoad(b *testing.B) {
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			r := benchRecord(b, m.s)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.s.Load(ctx, r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			r := benchRecord(b, m.s)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := m.s.Load(ctx, r.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// update runs one compare-and-swap on r (the record the caller owns),
// moving it to the next version.
func update(ctx context.Context, s *redis.Store, r *session.Record) error {
	r.Version++
	r.Data["n"] = r.LastSeen.String()
	return s.Update(ctx, r, r.Version-1)
}

func BenchmarkUpdate(b *testing.B) {
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			r := benchRecord(b, m.s).Clone()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := update(ctx, m.s, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateParallel: each goroutine updates a record of its own (on
// one shared record the CAS would turn most calls into ErrConflict).
func BenchmarkUpdateParallel(b *testing.B) {
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			ctx := context.Background()
			var failed atomic.Bool
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := benchRecord(b, m.s).Clone()
				for pb.Next() {
					if err := update(ctx, m.s, r); err != nil && !failed.Swap(true) {
						b.Error(err)
					}
				}
			})
		})
	}
}
