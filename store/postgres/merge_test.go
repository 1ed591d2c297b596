package postgres_test

import (
	"context"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/postgres"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestCommonMergeIsOneUpdate: a merge on the version the request loaded
// that keeps its IDs (nearly every modifying request) is a plain
// compare-and-swap UPDATE, which needs no merge function; only a merge on
// a record that has moved on calls it. The function is renamed away to
// show which path each merge took, then restored.
func TestCommonMergeIsOneUpdate(t *testing.T) {
	url := testenv.PostgresURL(t)
	schema := freshSchema(t, url)
	s := newStore(t, postgres.Config{URL: url, Schema: schema})
	ctx := context.Background()
	fn := `"` + schema + `"."sessiond_merge"`
	rename := func(from, to string) {
		t.Helper()
		if err := execSQL(ctx, url, `ALTER FUNCTION `+from+` RENAME TO `+to); err != nil {
			t.Fatal(err)
		}
	}
	r := storetest.NewRecord()
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	rename(fn, "sessiond_merge_away")
	c := storetest.SetChange(r, "k", "v2")
	c.Next.User = "merge-user"
	if err := s.Merge(ctx, c); err != nil {
		t.Fatalf("merge on the loaded version without the merge function: %v", err)
	}
	// Built on version 1 (stored is 2) of the same user: a change built
	// before the user changed would conflict (session.Merger rule 4).
	base := r.Clone()
	base.User = c.Next.User
	stale := storetest.SetChange(base, "other", "1")
	if err := s.Merge(ctx, stale); err == nil {
		t.Fatal("a merge on a record that moved on succeeded without the merge function")
	}
	rename(`"`+schema+`"."sessiond_merge_away"`, "sessiond_merge")
	if err := s.Merge(ctx, stale); err != nil {
		t.Fatalf("merge on a record that moved on: %v", err)
	}
	got, err := s.Load(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.Data["k"] != "v2" || got.Data["other"] != "1" || got.User != "merge-user" {
		t.Fatalf("after both merges: version %d, data %v, user %q; want 3, k=v2 and other=1, merge-user",
			got.Version, got.Data, got.User)
	}
	list, err := s.ListUser(ctx, "merge-user")
	if err != nil || len(list) != 1 || list[0].Ref != r.Ref {
		t.Fatalf("ListUser after the in-place merge set the user = %v, %v", list, err)
	}
}
