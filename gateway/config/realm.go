package config

import (
	"fmt"
	"strings"
)

// EffectiveRealm is the realm of the site's sessions: Realm if set, else
// the site's name.
func (s *Site) EffectiveRealm() string {
	if s.Realm != "" {
		return s.Realm
	}
	return s.Name
}

// validateRealms checks that sites share sessions only when the
// configuration says so explicitly — the same realm set on each of them —
// and only between sites of one mode: an HTTPS-only site must never accept
// a session that has travelled over plain HTTP (it may have been read or
// planted there).
type realmMember struct {
	path string
	site *Site
}

func validateRealms(c *Config, p *problems) {
	type member = realmMember
	groups := map[string][]member{}
	var order []string
	for i := range c.Sites {
		s := &c.Sites[i]
		sp := fmt.Sprintf("sites[%d]", i)
		if s.Realm != "" {
			if len(s.Realm) > 255 || strings.ContainsFunc(s.Realm, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				p.errf(join(sp, "realm"), "%s: at most 255 bytes, no control characters", quote(s.Realm))
				continue
			}
			if s.Session.Mode == ModeOff {
				p.warnf(join(sp, "realm"), "sessions are off for this site; the realm is ignored")
				continue
			}
		}
		if s.Session.Mode == ModeOff {
			continue
		}
		r := s.EffectiveRealm()
		if r == "" {
			continue // no name: reported elsewhere
		}
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], member{sp, s})
	}
	for _, r := range order {
		g := groups[r]
		if len(g) < 2 {
			continue
		}
		explicit := ""
		for _, m := range g {
			if m.site.Realm != "" {
				explicit = m.path
			}
		}
		for _, m := range g {
			// Sites that only share a name are reported as duplicate names.
			if m.site.Realm == "" && explicit != "" {
				p.errf(join(m.path, "realm"), "the site's realm defaults to its name %s, which another site (%s) uses as "+
					"its realm; to share sessions, set realm: %s on every site that shares them, else rename one",
					quote(r), explicit, quote(r))
			}
		}
		first := g[0]
		for _, m := range g[1:] {
			if m.site.Session.Mode != first.site.Session.Mode {
				p.errf(join(m.path, "realm"), "realm %s is shared by a %s site (%s) and a %s site: an HTTPS-only site "+
					"must never accept a session that has been on plain HTTP; give them separate realms",
					quote(r), first.site.Session.Mode, first.path, m.site.Session.Mode)
			}
		}
	}
}
