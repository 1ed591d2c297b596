package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/storetest"
)

// A load reads a record straight through the ref its hash named last
// time (a hint), but never serves a record that no longer lists the hash:
// one rotated away from it or deleted by another gateway, or a hint that
// names another record altogether — under RESP3 and under RESP2, where
// the HGETALL by hint is read as a list.
func TestLoadHintsNeverServeAStaleRecord(t *testing.T) {
	bothModes(t, func(t *testing.T, cluster bool) {
		for _, proto := range []int{3, 2} {
			t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) { testLoadHints(t, cluster, proto) })
		}
	})
}

func testLoadHints(t *testing.T, cluster bool, proto int) {
	ctx := context.Background()
	_, c, prefix := newStore(t, cluster)
	o := *c.Options()
	o.Protocol = proto
	pc := goredis.NewClient(&o)
	t.Cleanup(func() { pc.Close() })
	s, err := redis.New(redis.Config{Client: pc, Prefix: prefix, Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	other, err := redis.New(redis.Config{Client: c, Prefix: prefix, Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	load := func(step string, h session.Hash, wantRef string) {
		t.Helper()
		got, err := s.Load(ctx, h)
		switch {
		case wantRef == "" && !errors.Is(err, session.ErrNotFound):
			t.Fatalf("%s: Load = %+v, %v; want ErrNotFound", step, got, err)
		case wantRef != "" && err != nil:
			t.Fatalf("%s: %v", step, err)
		case wantRef != "" && got.Ref != wantRef:
			t.Fatalf("%s: loaded record %q, want %q", step, got.Ref, wantRef)
		}
	}

	rec := storetest.NewRecord()
	must(t, s.Create(ctx, rec.Clone()))
	load("first load", rec.ID, rec.Ref)
	load("load by hint", rec.ID, rec.Ref)

	// Another gateway rotates the ID away, keeping no alias.
	next := rec.Clone()
	next.Version++
	next.ID = storetest.NewRecord().ID
	must(t, other.Update(ctx, next.Clone(), rec.Version))
	load("old ID after another gateway rotated it away", rec.ID, "")
	load("new ID", next.ID, rec.Ref)

	// Another gateway deletes it (a revocation).
	load("new ID, hint warm", next.ID, rec.Ref)
	must(t, other.Delete(ctx, rec.Ref))
	load("after another gateway deleted it", next.ID, "")

	// A hint naming another record is not believed.
	a, b := storetest.NewRecord(), storetest.NewRecord()
	must(t, s.Create(ctx, a.Clone()))
	must(t, s.Create(ctx, b.Clone()))
	redis.PlantHint(s, a.ID, b.Ref)
	load("hint naming another record", a.ID, a.Ref)
	unknown := storetest.NewRecord().ID
	redis.PlantHint(s, unknown, b.Ref)
	load("unknown ID with a hint naming a live record", unknown, "")
}
