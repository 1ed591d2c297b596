package migrate

import (
	"strings"
	"testing"
)

// FuzzAuthFormKeys: whatever a migrated Apache table holds, the user key
// is one of its keys, and no key ending in "-pw" is ever forwarded.
func FuzzAuthFormKeys(f *testing.F) {
	f.Add("members-user", "members-pw", "members-site", "cart", "members")
	f.Add("a-user", "b-user", "a-pw", "b-site", "")
	f.Add("user", "pw", "x-pw", "-user", "")
	f.Fuzz(func(t *testing.T, k1, k2, k3, k4, name string) {
		vals := map[string]string{k1: "1", k2: "2", k3: "3", k4: "4"}
		a := authFormKeys{name: name}
		key, ambiguous := a.userKey(vals)
		if key != "" {
			if _, ok := vals[key]; !ok || ambiguous {
				t.Fatalf("user key %q (ambiguous %v) of %v", key, ambiguous, vals)
			}
		}
		for k := range vals {
			if (k == "pw" || strings.HasSuffix(k, "-pw")) && !a.hidden(k, vals) {
				t.Fatalf("%q would be forwarded", k)
			}
		}
	})
}
