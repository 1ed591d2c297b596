package oidc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/wire"
)

// FuzzIdentify: whatever claims a provider sends, identify never panics,
// and an admitted user is a valid protocol user with groups that fit the
// comma-separated header and an email that fits a header.
func FuzzIdentify(f *testing.F) {
	f.Add(`{"sub":"u","email":"a@example.com","email_verified":true,"groups":["staff"]}`)
	f.Add(`{"sub":1,"groups":"x"}`)
	f.Add(`{"sub":"u","groups":[1,null,"a,b",""]}`)
	cfg := config.DefaultOIDC()
	cfg.GroupsClaim = "groups"
	cfg.AllowedDomains = []string{"example.com"}
	m := &Method{cfg: cfg}
	f.Fuzz(func(t *testing.T, raw string) {
		var claims map[string]any
		if json.Unmarshal([]byte(raw), &claims) != nil {
			return
		}
		who, why := m.identify(claims)
		if why != "" {
			return
		}
		if !wire.ValidUser(who.user) {
			t.Fatalf("admitted an invalid user %q", who.user)
		}
		for _, g := range who.groups {
			if g == "" || strings.Contains(g, ",") || !headerSafe(g) {
				t.Fatalf("group %q", g)
			}
		}
		if strings.Contains(who.email, ",") || !headerSafe(who.email) {
			t.Fatalf("email %q", who.email)
		}
	})
}
