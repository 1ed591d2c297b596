package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sessiond/sessiond/session"
)

// serveBackchannel takes a provider's logout token (Back-Channel Logout
// 1.0): once verified, every session of its sid, or of its sub, signed
// in before it, is signed out.
func (m *Method) serveBackchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST a logout_token", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	raw := r.PostFormValue("logout_token")
	sub, sid, reason := m.verifyLogout(r.Context(), raw)
	if reason != "" {
		m.site.Audit(r, session.Event{Type: "oidc.backchannel_refused", Attrs: []slog.Attr{slog.String("reason", reason)}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_request"}` + "\n"))
		return
	}
	now := m.now()
	// Every gateway on the store signs the named sessions out at their
	// next request, before and after a restart; those signed in here end
	// at once.
	if err := m.logouts.record(r.Context(), sid, sub, now); err != nil {
		m.site.Logger().Error("oidc: recording a back-channel logout", "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the logout could not be recorded; try again", http.StatusServiceUnavailable)
		return
	}
	revoked := 0
	for _, si := range m.signins.take(sid, sub) {
		switch err := m.site.RevokeSession(r.Context(), si.user, si.ref); {
		case err == nil:
			revoked++
		case !errors.Is(err, session.ErrNotFound) && !errors.Is(err, errors.ErrUnsupported):
			// (The cookie store cannot end one session from here: the
			// recorded logout signs it out at its next request.)
			m.site.Logger().Error("oidc: back-channel logout", "err", err)
		}
	}
	if sub != "" && m.cfg.UserClaim == "sub" {
		// The user is the sub: every one of their sessions in the realm
		// ends now, on every gateway of a server store.
		n, err := m.site.RevokeUser(r.Context(), sub)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			m.site.Logger().Error("oidc: back-channel logout", "err", err)
		}
		revoked += n
	}
	m.site.Audit(r, session.Event{Type: "oidc.backchannel_logout", User: sub, Attrs: []slog.Attr{
		slog.Bool("sid", sid != ""), slog.Int("revoked", revoked)}})
	w.WriteHeader(http.StatusOK)
}

// keepEnded is how long a back-channel logout is remembered: until every
// session it could name has expired by itself.
const keepEnded = 48 * time.Hour

// verifyLogout checks a logout token: signature, issuer, audience and
// expiry as for an ID token, the back-channel logout event, no nonce, and
// a sid or sub.
func (m *Method) verifyLogout(parent context.Context, raw string) (sub, sid, reason string) {
	if raw == "" {
		return "", "", "no_token"
	}
	d, err := m.discover(parent, false)
	if err != nil {
		return "", "", "provider_down"
	}
	ctx, cancel := m.ctx(parent)
	defer cancel()
	tok, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return "", "", verifyReason(err)
	}
	var c struct {
		Sub    string         `json:"sub"`
		SID    string         `json:"sid"`
		Nonce  *string        `json:"nonce"`
		Events map[string]any `json:"events"`
	}
	if err := tok.Claims(&c); err != nil {
		return "", "", "claims"
	}
	switch _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; {
	case !ok:
		return "", "", "not_a_logout_token"
	case c.Nonce != nil:
		return "", "", "nonce_present"
	case c.Sub == "" && c.SID == "":
		return "", "", "no_sub_or_sid"
	}
	return c.Sub, c.SID, ""
}

// logouts are the back-channel logouts of one provider in one realm,
// recorded in the store's State: every gateway on the store reads them,
// before and after a restart. A sid's logout ends every session of that
// provider session; a sub's ends the subject's sessions signed in before
// it. Claims are write-once, so the logouts of one sub form a chain of
// generations (subGens at most): each logout claims the first free one,
// and a session is checked against every generation up to the first
// free one.
type logouts struct {
	st    State
	scope string // the issuer and the realm
	keep  time.Duration
}

// key names the marker of a sid or sub, bounded and opaque in the store.
func (l logouts) key(kind, v string) string {
	h := sha256.Sum256([]byte(l.scope + "\x00" + kind + "\x00" + v))
	return "oidc-logout:" + base64.RawURLEncoding.EncodeToString(h[:])
}

// subGens bounds the chain of one sub's logouts kept at once (keep long).
const subGens = 16

// subKey names generation g of sub's logouts.
func (l logouts) subKey(sub string, g int) string { return l.key("sub", sub+"\x00"+strconv.Itoa(g)) }

// record remembers that sid and sub (either may be "") were logged out at
// at.
func (l logouts) record(ctx context.Context, sid, sub string, at time.Time) error {
	if sid != "" {
		if _, err := l.st.Claim(ctx, l.key("sid", sid), at.Add(l.keep)); err != nil {
			return err
		}
	}
	if sub == "" {
		return nil
	}
	for g := range subGens {
		first, err := l.st.Claim(ctx, l.subKey(sub, g), at.Add(l.keep))
		if err != nil || first {
			return err
		}
	}
	return fmt.Errorf("oidc: more than %d back-channel logouts of one subject within %v", subGens, l.keep)
}

// ended reports whether a session of sid and sub signed in at since was
// ended by a back-channel logout: of its sid at any time, of its sub at or
// after since.
func (l logouts) ended(ctx context.Context, sid, sub string, since time.Time) (bool, error) {
	if sid != "" {
		until, err := l.st.ClaimedUntil(ctx, l.key("sid", sid))
		if err != nil || !until.IsZero() {
			return err == nil, err
		}
	}
	if sub == "" {
		return false, nil
	}
	for g := range subGens {
		until, err := l.st.ClaimedUntil(ctx, l.subKey(sub, g))
		if err != nil || until.IsZero() {
			return false, err
		}
		if !until.Add(-l.keep).Before(since) {
			return true, nil
		}
	}
	return false, nil
}

// signinIndex remembers which sessions this gateway signed in under each
// provider session (sid) and subject, so that a back-channel logout ends
// them at once.
type signinIndex struct {
	mu sync.Mutex
	by map[string][]signin
}

type signin struct {
	user, ref string
	until     time.Time
}

func newSigninIndex() *signinIndex { return &signinIndex{by: map[string][]signin{}} }

// add records the session ref of user, signed in under sid and sub, until
// it cannot outlive until.
func (x *signinIndex) add(sid, sub, user, ref string, now, until time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, list := range x.by {
		kept := list[:0]
		for _, si := range list {
			if now.Before(si.until) {
				kept = append(kept, si)
			}
		}
		if len(kept) == 0 {
			delete(x.by, k)
		} else {
			x.by[k] = kept
		}
	}
	for _, k := range []string{"sid:" + sid, "sub:" + sub} {
		if len(k) > 4 {
			x.by[k] = append(x.by[k], signin{user, ref, until})
		}
	}
}

// take removes and returns the sessions signed in under sid or sub.
func (x *signinIndex) take(sid, sub string) []signin {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []signin
	for _, k := range []string{"sid:" + sid, "sub:" + sub} {
		if len(k) > 4 {
			out = append(out, x.by[k]...)
			delete(x.by, k)
		}
	}
	return out
}
