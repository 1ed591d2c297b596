package remember_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/remember/internal/sqltest"
)

// TestDumpHoldsNoValidator reads the SQL table directly, as someone with a
// copy of the database would: it holds the selector and the SHA-256 of the
// validator, never the validator in any encoding, so no row can be turned
// back into a working cookie.
func TestDumpHoldsNoValidator(t *testing.T) {
	tests := []struct {
		name string
		open func(testing.TB) sqltest.DB
	}{
		{"sqlite", sqltest.SQLite},
		{"postgres", sqltest.Postgres},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.open(t)
			a := newApp(t, db.Store, nil)
			b := a.browser(t)
			b.login("alice")
			var cookies []string
			cookies = append(cookies, b.key())
			if user, _ := b.auto(); user != "alice" {
				t.Fatal("auto-login failed")
			}
			cookies = append(cookies, b.key())

			rows := db.Dump(t)
			if len(rows) != 2 {
				t.Fatalf("dump has %d rows, want 2 (used key kept for reuse detection, and its successor)", len(rows))
			}
			dump := strings.ToLower(strings.Join(flatten(rows), "\n"))
			for _, c := range cookies {
				sel, val, _ := strings.Cut(c, ".")
				raw, err := base64.RawURLEncoding.DecodeString(val)
				if err != nil {
					t.Fatal(err)
				}
				for _, leak := range []string{val, hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), string(raw)} {
					if strings.Contains(dump, strings.ToLower(leak)) {
						t.Fatalf("the dump contains the validator:\n%s", dump)
					}
				}
				sum := sha256.Sum256(raw)
				if !strings.Contains(dump, "selector="+strings.ToLower(sel)) || !strings.Contains(dump, "validator_sha256="+hex.EncodeToString(sum[:])) {
					t.Fatalf("the dump lacks the selector or the validator hash:\n%s", dump)
				}
			}
		})
	}
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, " "))
	}
	return out
}
