package session

import "testing"

// FuzzUnmarshalRecord: a corrupt stored row never panics, and what decodes
// re-encodes to something that decodes the same.
func FuzzUnmarshalRecord(f *testing.F) {
	b, _ := MarshalRecord(&Record{Ref: "r", Data: map[string]string{"a": "b"}, Version: 1})
	f.Add(b)
	f.Add([]byte{1})
	b, _ = MarshalRecord(&Record{Ref: "r", Realm: "shop", User: "alice", Version: 3})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := UnmarshalRecord(in)
		if err != nil {
			return
		}
		out, _ := MarshalRecord(r)
		r2, err := UnmarshalRecord(out)
		if err != nil || r2.Ref != r.Ref || r2.Realm != r.Realm || len(r2.Data) != len(r.Data) || r2.Version != r.Version {
			t.Fatalf("re-decode differs: %v", err)
		}
	})
}
