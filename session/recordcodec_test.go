package session_test

import (
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
	for name, r := range map[string]*session.Record{"full": fullRecord(), "minimal": {Ref: "x"}} {
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
