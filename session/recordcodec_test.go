package session_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/internal/token"
	"github.com/sessiond/sessiond/session"
)

func fullRecord() *session.Record {
	_, a := token.New()
	_, b := token.New()
	_, c := token.New()
	now := time.Now()
	return &session.Record{Ref: token.Ref(), ID: a, SecureID: b,
		Aliases: []session.Alias{{Hash: c, Secure: true, Until: now.Add(time.Minute), Next: []byte{1, 2, 3}, Generation: 4}},
		Data:    map[string]string{"": "empty", "cart": "1,2", "nul": "\x00", "utf8": "Zoë"}, Sealed: []byte{9, 9},
		User: "alice", Created: now, LastSeen: now, Saved: now, Rotated: now, SecureSeen: now, Expires: now.Add(time.Hour),
		Version: 42, Generation: 5, Requests: 7, IP: "192.0.2.1", UserAgent: "Mozilla/5.0"}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	realm := fullRecord()
	realm.Realm = "shop"
	for name, r := range map[string]*session.Record{"full": fullRecord(), "minimal": {Ref: "x"}, "realm": realm,
		"minimal realm": {Ref: "x", Realm: "r"}} {
		t.Run(name, func(t *testing.T) {
			b, err := session.MarshalRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := session.UnmarshalRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r, got, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0)); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordCodecRejects(t *testing.T) {
	b, _ := session.MarshalRecord(fullRecord())
	cases := map[string][]byte{
		"empty":          nil,
		"other version":  append([]byte{9}, b[1:]...),
		"trailing bytes": append(append([]byte{}, b...), 0),
		"huge length":    {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for i := 1; i < len(b); i += 7 {
		cases["truncated at "+string(rune('0'+i%10))+"/"+time.Duration(i).String()] = b[:i]
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := session.UnmarshalRecord(in); err == nil {
				t.Fatal("malformed record accepted")
			}
		})
	}
}

func BenchmarkUnmarshalRecord(b *testing.B) {
	data, _ := session.MarshalRecord(fullRecord())
	b.ReportAllocs()
	for b.Loop() {
		session.UnmarshalRecord(data)
	}
}

// TestRecordCodecRefusesUnstorableTimes: Unix nanoseconds hold 1678 to
// 2262; a time outside is refused with ErrRecordTime instead of being
// stored as another date (a far-future deadline wrapping into the past).
func TestRecordCodecRefusesUnstorableTimes(t *testing.T) {
	far := []time.Time{time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}
	set := map[string]func(r *session.Record, t time.Time){
		"created":     func(r *session.Record, t time.Time) { r.Created = t },
		"last seen":   func(r *session.Record, t time.Time) { r.LastSeen = t },
		"saved":       func(r *session.Record, t time.Time) { r.Saved = t },
		"rotated":     func(r *session.Record, t time.Time) { r.Rotated = t },
		"secure seen": func(r *session.Record, t time.Time) { r.SecureSeen = t },
		"expires":     func(r *session.Record, t time.Time) { r.Expires = t },
		"alias until": func(r *session.Record, t time.Time) { r.Aliases[0].Until = t },
	}
	for name, f := range set {
		for _, tm := range far {
			r := fullRecord()
			f(r, tm)
			b, err := session.MarshalRecord(r)
			if !errors.Is(err, session.ErrRecordTime) || b != nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s = %v: MarshalRecord = %d bytes, %v; want ErrRecordTime naming the field", name, tm, len(b), err)
			}
		}
	}
	r := fullRecord()
	r.Expires = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	r.Created = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	b, err := session.MarshalRecord(r)
	if err != nil {
		t.Fatalf("in-range times refused: %v", err)
	}
	got, err := session.UnmarshalRecord(b)
	if err != nil || !got.Expires.Equal(r.Expires) || !got.Created.Equal(r.Created) {
		t.Fatalf("in-range times did not round-trip: %v %v %v", err, got.Expires, got.Created)
	}
}

// A record's realm survives the storage form, and a record of the empty
// realm is written in format 1, which has no realm field.
func TestRecordCodecRealm(t *testing.T) {
	r := fullRecord()
	plain, _ := session.MarshalRecord(r)
	if plain[0] != 1 {
		t.Fatalf("a record without a realm is written as format %d, want 1", plain[0])
	}
	r.Realm = "outlet"
	b, _ := session.MarshalRecord(r)
	got, err := session.UnmarshalRecord(b)
	if err != nil || got.Realm != "outlet" {
		t.Fatalf("realm after a round trip: %q, %v", got.Realm, err)
	}
	// Format 2 with an empty realm is not something MarshalRecord writes.
	forged := append([]byte{2}, plain[1:]...)
	if _, err := session.UnmarshalRecord(forged); err == nil {
		t.Fatal("a format 2 record without its realm field was accepted")
	}
}
