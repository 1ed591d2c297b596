package gateway

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/sessiond/sessiond/session"
)

// Migration from Apache: with ModCrypto set, a cookie made by
// mod_session_crypto is accepted once and re-issued as a sessiond session,
// so a site moves behind sessiond without logging anyone out. The Apache
// cookie is expired on the same response; its digest is remembered so a
// copy replayed later (while this process runs) is refused. mod_auth_form's
// cleartext "pw" key is dropped; its "user" key logs the user in (over
// HTTPS), since Apache had authenticated it.

// replaySet remembers recently used cookie digests, bounded (FIFO).
type replaySet struct {
	mu    sync.Mutex
	seen  map[string]struct{}
	order []string
	max   int
}

func (r *replaySet) add(d string) (fresh bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]struct{}{}
		r.max = 100_000
	}
	if _, ok := r.seen[d]; ok {
		return false
	}
	r.seen[d] = struct{}{}
	r.order = append(r.order, d)
	if len(r.order) > r.max {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
	return true
}

func (s *site) migrateApache(w http.ResponseWriter, r *http.Request) {
	name := s.cfg.ModCryptoCookie
	c, err := r.Cookie(name)
	if err != nil {
		return
	}
	// Used at most once, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.isSecure(r)})
	sess := session.FromContext(r.Context())
	if sess == nil || !sess.IsNew() {
		return // a sessiond session exists: it wins
	}
	old, err := s.cfg.ModCrypto.Decode(c.Value)
	if err != nil {
		s.audit(r, session.Event{Type: "modcrypto.refused", Attrs: []slog.Attr{slog.String("err", err.Error())}})
		return
	}
	if !s.replay.add(old.Digest) {
		s.audit(r, session.Event{Type: "modcrypto.replay"})
		return
	}
	for k, v := range old.Values {
		switch {
		case k == "pw" || reservedKey(k):
		case k == "user" && s.login != nil:
			if err := sess.Login(v); err != nil {
				s.log.Info("gateway: migrated Apache user not logged in", "err", err)
			}
		default:
			sess.Set(k, v)
		}
	}
	s.audit(r, session.Event{Type: "modcrypto.migrated", User: old.Values["user"]})
}
