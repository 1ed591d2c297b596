package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/session"
)

func TestCheckRecord(t *testing.T) {
	ok := &session.Record{Ref: "r", Version: 2}
	cases := []struct {
		name string
		rec  *session.Record
		prev uint64
		want string // "" for valid
	}{
		{"valid", ok, 1, ""},
		{"nil", nil, 0, "nil record"},
		{"empty ref", &session.Record{Version: 1}, 0, "empty ref"},
		{"long ref", &session.Record{Ref: strings.Repeat("r", MaxRefLen+1), Version: 1}, 0, "limit"},
		{"NUL ref", &session.Record{Ref: "a\x00", Version: 1}, 0, "NUL"},
		{"bad UTF-8 user", &session.Record{Ref: "r", User: "\xff", Version: 1}, 0, "UTF-8"},
		{"long user", &session.Record{Ref: "r", User: strings.Repeat("u", MaxUserLen+1), Version: 1}, 0, "limit"},
		{"version skips", &session.Record{Ref: "r", Version: 3}, 1, "does not follow"},
		{"version repeats", &session.Record{Ref: "r", Version: 1}, 1, "does not follow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckUpdate(tc.rec, tc.prev)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckUpdate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckUpdate = %v, want ErrBadRecord mentioning %q", err, tc.want)
			}
		})
	}
}

func h(b byte) session.Hash { return session.Hash{b} }

func TestHashesSkipsZeroAndDuplicates(t *testing.T) {
	r := &session.Record{ID: h(1), SecureID: h(2), Aliases: []session.Alias{{Hash: h(1)}, {}, {Hash: h(3)}, {Hash: h(2)}}}
	raw := func(b byte) []byte { x := h(b); return x[:] }
	want := [][]byte{raw(1), raw(2), raw(3)}
	if diff := cmp.Diff(want, Hashes(r)); diff != "" {
		t.Fatalf("Hashes (-want +got):\n%s", diff)
	}
	if got := Hashes(&session.Record{}); got == nil || len(got) != 0 {
		t.Fatalf("Hashes of a record without IDs = %#v, want an empty, non-nil slice", got)
	}
}

func TestExpiresMicrosRoundsUp(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name   string
		t      time.Time
		want   int64
		wantOK bool
	}{
		{"zero is never", time.Time{}, 0, false},
		{"whole microsecond", base.Add(5 * time.Microsecond), base.UnixMicro() + 5, true},
		{"one nanosecond more", base.Add(5*time.Microsecond + time.Nanosecond), base.UnixMicro() + 6, true},
		{"before 1970", time.Unix(-1, 500), -1_000_000 + 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ExpiresMicros(tc.t)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("ExpiresMicros = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
			// Never collected early: expired at the stored micro means
			// expired by Record.ExpiredAt.
			if ok {
				at := time.UnixMicro(got)
				if !(&session.Record{Expires: tc.t}).ExpiredAt(at) {
					t.Fatalf("stored expiry %v is before the real one %v", at, tc.t)
				}
			}
		})
	}
}

func TestDiff(t *testing.T) {
	b := func(x ...byte) [][]byte {
		out := [][]byte{}
		for _, c := range x {
			out = append(out, []byte{c})
		}
		return out
	}
	cases := []struct {
		name           string
		old, new       [][]byte
		removed, added [][]byte
	}{
		{"same", b(1, 2), b(2, 1), nil, nil},
		{"rotate", b(1), b(2, 1), nil, b(2)},
		{"drop alias", b(2, 1), b(2), b(1), nil},
		{"all new", b(1), b(2), b(1), b(2)},
		{"from nothing", nil, b(1), nil, b(1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			removed, added := Diff(tc.old, tc.new)
			if diff := cmp.Diff(tc.removed, removed); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.added, added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeTable deletes up to limit of its rows per batch, taking perRow each.
type fakeTable struct {
	rows   int
	perRow time.Duration
	limits []int
	failAt int // batch number that fails (0: none)
	// yieldAbove: batches larger than this yield (a writer always waits
	// by then); 0: none yields.
	yieldAbove int
}

func (f *fakeTable) deleteBatch(ctx context.Context, limit int) (Batch, error) {
	f.limits = append(f.limits, limit)
	if len(f.limits) == f.failAt {
		return Batch{}, errors.New("disk on fire")
	}
	if f.yieldAbove > 0 && limit > f.yieldAbove {
		time.Sleep(time.Duration(f.yieldAbove) * f.perRow)
		return Batch{Yielded: true}, nil
	}
	n := min(limit, f.rows)
	f.rows -= n
	time.Sleep(time.Duration(n) * f.perRow)
	return Batch{Deleted: n}, nil
}

func TestGCLoop(t *testing.T) {
	cases := []struct {
		name      string
		rows      int
		plan      GCPlan
		failAt    int
		wantN     int
		wantErr   bool
		wantCalls int // 0: don't check
	}{
		{"fixed batches", 2500, GCPlan{Max: 1000}, 0, 2500, false, 3},
		{"exact multiple needs a last empty batch", 2000, GCPlan{Max: 1000}, 0, 2000, false, 3},
		{"nothing to do", 0, GCPlan{Max: 1000}, 0, 0, false, 1},
		{"error keeps the count so far", 5000, GCPlan{Max: 1000}, 3, 2000, true, 3},
		{"adaptive", 1000, GCPlan{Max: 1000, Target: time.Millisecond, Pause: 1}, 0, 1000, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTable{rows: tc.rows, failAt: tc.failAt, perRow: 10 * time.Microsecond}
			n, err := GC(context.Background(), tc.plan, f.deleteBatch)
			if n != tc.wantN || (err != nil) != tc.wantErr {
				t.Fatalf("GC = %d, %v; want %d, error %v", n, err, tc.wantN, tc.wantErr)
			}
			if tc.wantCalls > 0 && len(f.limits) != tc.wantCalls {
				t.Fatalf("%d batches (%v), want %d", len(f.limits), f.limits, tc.wantCalls)
			}
			for i, l := range f.limits {
				if l < 1 || l > tc.plan.Max {
					t.Fatalf("batch %d limit %d outside [1, %d]", i, l, tc.plan.Max)
				}
				if i > 0 && (l > 2*f.limits[i-1] || l < f.limits[i-1]/2) {
					t.Fatalf("batch size jumped from %d to %d", f.limits[i-1], l)
				}
			}
		})
	}
}

func TestGCAdaptsBatchSizeToTarget(t *testing.T) {
	// 10µs a row and a 2ms target: batches grow from 16 towards 200 and
	// stay well below Max.
	f := &fakeTable{rows: 5000, perRow: 10 * time.Microsecond}
	if _, err := GC(context.Background(), GCPlan{Max: 5000, Target: 2 * time.Millisecond}, f.deleteBatch); err != nil {
		t.Fatal(err)
	}
	if f.limits[0] != 16 {
		t.Fatalf("first batch %d, want 16", f.limits[0])
	}
	biggest := 0
	for _, l := range f.limits {
		biggest = max(biggest, l)
	}
	if biggest < 64 || biggest > 1000 {
		t.Fatalf("batch sizes %v: want growth past 64 and no more than 1000 (target is about 200)", f.limits)
	}
}

// TestGCYieldsToWriters: a batch abandoned for a waiting writer deletes
// nothing, the next is half its size, and the collection still finishes
// with batches small enough to complete between writes (a fixed plan
// tries twice the size after each success).
func TestGCYieldsToWriters(t *testing.T) {
	f := &fakeTable{rows: 3000, perRow: time.Microsecond, yieldAbove: 100}
	n, err := GC(context.Background(), GCPlan{Max: 1000}, f.deleteBatch)
	if n != 3000 || err != nil {
		t.Fatalf("GC = %d, %v; want 3000, nil", n, err)
	}
	want := []int{1000, 500, 250, 125, 62, 124, 62, 124}
	if len(f.limits) < len(want) || !slices.Equal(f.limits[:len(want)], want) {
		t.Fatalf("batch sizes %v, want them to start %v", f.limits, want)
	}
}

func TestGCStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeTable{rows: 10_000}
	calls := 0
	n, err := GC(ctx, GCPlan{Max: 100}, func(ctx context.Context, limit int) (Batch, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		return f.deleteBatch(ctx, limit)
	})
	if n != 300 || !errors.Is(err, context.Canceled) {
		t.Fatalf("GC = %d, %v; want 300, context.Canceled", n, err)
	}
}

// TestGCGoesOnAfterSkippedRows: a batch that tried its whole limit but
// deleted fewer (rows found locked or renewed) is not the last; one that
// tried fewer than its limit is.
func TestGCGoesOnAfterSkippedRows(t *testing.T) {
	cases := []struct {
		name      string
		rows      int
		skip      int // rows each batch tries but does not delete
		wantN     int
		wantCalls int
	}{
		{"one skipped per batch", 350, 1, 346, 4},
		{"all skipped", 250, 100, 0, 3},
		{"none skipped", 250, 0, 250, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			left, calls := tc.rows, 0
			n, err := GC(context.Background(), GCPlan{Max: 100}, func(ctx context.Context, limit int) (Batch, error) {
				calls++
				tried := min(limit, left)
				left -= tried
				return Batch{Deleted: max(tried-tc.skip, 0), Tried: tried}, nil
			})
			if n != tc.wantN || err != nil || calls != tc.wantCalls {
				t.Fatalf("GC = %d, %v after %d batches; want %d, nil after %d", n, err, calls, tc.wantN, tc.wantCalls)
			}
		})
	}
}
