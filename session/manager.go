package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/token"
)

// ErrInsecure: the operation needs HTTPS (logging in over plain HTTP, or
// any session in HTTPS-only mode over plain HTTP).
var ErrInsecure = errors.New("session: refused over plain HTTP")

// Manager issues, loads and saves sessions. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	b       backend // where records live: chosen once, by New
	unknown *UnknownIDLimiter
	// plainHTTPLogged: ErrPlainHTTP has been logged at ERROR once.
	plainHTTPLogged atomic.Bool
	// unknownSample rate-limits the session.unknown_id audit event.
	unknownSample sampler
}

// New validates cfg, applies defaults and returns a Manager. Errors name
// the Config field (errors.As with *ConfigError).
func New(cfg Config) (*Manager, error) {
	c, err := cfg.Effective()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: c}
	if c.Codec != nil {
		m.b = &cookieBackend{m: m, codec: c.Codec}
	} else {
		m.b = &storeBackend{m: m, store: c.Store}
	}
	m.unknown = c.UnknownIDs
	if m.unknown == nil {
		m.unknown = NewUnknownIDLimiter(c.UnknownIDLimit)
	}
	return m, nil
}

// Config returns the effective configuration (defaults applied).
func (m *Manager) Config() Config { return m.cfg }

// expiry is when rec ends under the current configuration (zero: never).
func (m *Manager) expiry(rec *Record) time.Time {
	var t time.Time
	earliest := func(c time.Time) {
		if t.IsZero() || c.Before(t) {
			t = c
		}
	}
	if m.cfg.IdleTimeout > 0 {
		earliest(rec.LastSeen.Add(m.cfg.IdleTimeout))
	}
	if m.cfg.AbsoluteTimeout > 0 {
		earliest(rec.Created.Add(m.cfg.AbsoluteTimeout))
	}
	if m.cfg.MaxAge > 0 {
		earliest(rec.Saved.Add(m.cfg.MaxAge))
	}
	return t
}

// ExpiredNotice is how long a store keeps a record after its session ended
// (Record.Expires is the end plus ExpiredNotice): while it does, an ID of
// it that a browser presents is answered as expired — audited as
// session.expired, its cookie cleared — not as unknown, on every store,
// Redis's TTL and the cookie store's sealed expiry included. The record is
// never served again: the Manager judges the end from its own limits. Its
// data stays at rest that long too (store/sealed encrypts it there).
const ExpiredNotice = time.Hour

// storeExpiry is the Record.Expires of rec: when the store may forget it.
func (m *Manager) storeExpiry(rec *Record) time.Time {
	e := m.expiry(rec)
	if e.IsZero() {
		return e
	}
	return e.Add(ExpiredNotice)
}

func (m *Manager) live(rec *Record, now time.Time) bool {
	e := m.expiry(rec)
	return e.IsZero() || now.Before(e)
}

// unavailable wraps a store failure once with ErrUnavailable.
func unavailable(op string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// issued holds the raw IDs a save handed out, for the cookies.
type issued struct {
	id       string // rec.ID: the only ID (HTTPS-only) or the insecure one (mixed)
	secureID string // rec.SecureID (mixed mode)
	// rotation says why an existing ID was regenerated, for the audit log
	// ("" if none was).
	rotation rotation
}

// built is what build made of a change set.
type built struct {
	next *Record
	out  issued
	// data: a value of Data changed; meta: a field other than Data, the
	// timestamps and the request count changed (Change.Meta); count: the
	// request is counted (Change.Count).
	data, meta, count bool
}

// build applies s's change set to base and returns the next version and
// the IDs the client must be given.
func (m *Manager) build(s *Session, base *Record, now time.Time) built {
	next := base.Clone()
	var b built
	if next.Data == nil {
		next.Data = map[string]string{}
	}
	if s.cleared {
		for k := range next.Data {
			if s.visible(k) {
				delete(next.Data, k)
				b.data = true
			}
		}
	}
	for k := range s.dels {
		if _, ok := next.Data[k]; ok {
			delete(next.Data, k)
			b.data = true
		}
	}
	for k, v := range s.sets {
		if old, ok := next.Data[k]; !ok || old != v {
			next.Data[k] = v
			b.data = true
		}
	}
	if s.userSet && next.User != s.user {
		next.User = s.user
		b.meta = true
	}
	// Every save restarts MaxAge, a touch of "last seen" too (Apache's
	// SessionMaxAge slides with every save of the session).
	next.Saved = now
	next.Version = base.Version + 1
	next.LastSeen = now
	if s.bindSave || (s.userSet && s.user != "") {
		// A sign-in records its client: the active-sessions list shows
		// the browser and address of the latest login, not of creation.
		next.IP, next.UserAgent = s.ipString(), s.ua
		b.meta = true
	}
	if s.count {
		next.Requests++
		b.count = true
	}
	regen := s.regen
	if regen == regenSoft && base.Generation > s.loadedGen {
		regen = regenNone // a concurrent request rotated already; our client follows its alias
	}
	if regen == regenHard && m.joinLogin(s, base, &b.out) {
		regen = regenNone // a concurrent login of the same user did it; our client joins it
	}
	if regen != regenNone {
		secure := s.usesSecureID()
		raw := m.rotateID(s, base, next, secure, regen == regenSoft, now)
		if secure {
			b.out.secureID = raw
		} else {
			b.out.id = raw
		}
		next.Rotated = now
		if next.Rotated.Before(s.issueAfter) {
			next.Rotated = s.issueAfter // at most a millisecond ahead
		}
		next.Generation++
		next.Requests = 0
		b.meta = true
		b.out.rotation = rotation{soft: regen == regenSoft, reason: s.regenReason()}
	}
	m.mixedBuild(s, base, next, regen, &b.out, now)
	if next.SecureID != base.SecureID || next.ID != base.ID || !next.SecureSeen.Equal(base.SecureSeen) {
		b.meta = true
	}
	next.Expires = m.storeExpiry(next)
	b.next = next
	return b
}

// joinLogin handles a login that lost the race to a concurrent login of
// the same user on the same session: that login turned our client's ID
// into an alias whose successor only a request holding the old ID and
// authenticated as that user can open. It points out at the current ID
// (in mixed mode: the current secure and insecure IDs, sealed together
// under the old secure ID, which never travels over plain HTTP) and
// reports true; false means rotate as usual.
func (m *Manager) joinLogin(s *Session, base *Record, out *issued) bool {
	secure := s.usesSecureID()
	raw := s.rawID
	if secure {
		raw = s.rawSecure
	}
	if (m.cfg.Mode == Mixed && !secure) || !s.userSet || s.user == "" || base.User != s.user ||
		base.Generation <= s.loadedGen || raw == "" {
		return false
	}
	h, ok := token.ParseIn(base.Realm, raw)
	if !ok {
		return false
	}
	i := slices.IndexFunc(base.Aliases, func(a Alias) bool { return a.Hash == h && a.Secure == secure })
	if i < 0 || base.Aliases[i].Next == nil {
		return false
	}
	if !secure {
		next, ok := token.OpenLoginSuccessor(raw, s.user, base.Aliases[i].Next)
		cur := ""
		if ok {
			cur = follow(base, next, false)
		}
		out.id = cur
		return cur != ""
	}
	sec, ins, ok := token.OpenLoginPair(raw, s.user, base.Aliases[i].Next)
	if !ok {
		return false
	}
	curSec, curIns := follow(base, sec, true), follow(base, ins, false)
	if curSec == "" {
		return false
	}
	// curIns is "" when a plain-HTTP request rotated the insecure ID
	// meanwhile (a step-down, e.g. a sniffer replaying the old sid): the
	// client keeps its old sid, and its next HTTPS request is given a
	// fresh one. Rotating as usual instead would sign the winner out.
	out.secureID, out.id = curSec, curIns
	return true
}

// rotateID gives next a new insecure (or secure) ID and turns the old one
// into an alias that works for the grace window. withNext lets the old ID
// lead its holder to the new one; only periodic rotations and transport
// switches allow that: after a privilege change the pre-change ID must
// never reach the session.
func (m *Manager) rotateID(s *Session, base, next *Record, secure, withNext bool, now time.Time) string {
	p, old, raw := &s.pendID, base.ID, s.rawID
	if secure {
		p, old, raw = &s.pendSecure, base.SecureID, s.rawSecure
	}
	p.draw(m.cfg.Realm)
	if !old.IsZero() {
		alias := Alias{Hash: old, Secure: secure, Until: now.Add(m.cfg.Grace), Generation: base.Generation}
		if raw != "" {
			if cur := follow(base, raw, secure); cur != "" {
				switch {
				case withNext:
					alias.Next = token.SealSuccessor(cur, p.raw)
				case !secure && m.cfg.Mode != Mixed && s.userSet && s.user != "":
					// A login: only a concurrent login of the same user may follow.
					alias.Next = token.SealLoginSuccessor(cur, s.user, p.raw)
				case secure && s.userSet && s.user != "":
					// A login over HTTPS in mixed mode also replaces the
					// insecure ID (mixedBuild draws the same pendID): a
					// concurrent login of the same user holding the old
					// secure ID is led to both new IDs.
					s.pendID.draw(m.cfg.Realm)
					alias.Next = token.SealLoginPair(cur, s.user, p.raw, s.pendID.raw)
				}
			}
		}
		next.Aliases = append(next.Aliases, alias)
		if over := len(next.Aliases) - maxAliases; over > 0 {
			next.Aliases = slices.Delete(next.Aliases, 0, over)
		}
	}
	if secure {
		next.SecureID = p.hash
	} else {
		next.ID = p.hash
	}
	return p.raw
}

// newRecord makes the first version of a session from s's change set.
func (m *Manager) newRecord(s *Session, now time.Time) (*Record, issued) {
	base := &Record{
		Ref:       token.Ref(),
		Realm:     m.cfg.Realm,
		Created:   now,
		Saved:     now,
		Rotated:   now,
		IP:        s.ipString(),
		UserAgent: s.ua,
	}
	s.loadedGen = 0
	regen := s.regen
	s.regen = regenNone
	next := m.build(s, base, now).next
	s.regen = regen
	next.Version, next.Requests, next.Generation = 1, 0, 0
	next.Aliases = nil
	var out issued
	s.pendID.draw(m.cfg.Realm)
	next.ID, out.id = s.pendID.hash, s.pendID.raw
	if m.cfg.Mode == Mixed && s.secure {
		s.pendSecure.draw(m.cfg.Realm)
		next.SecureID, out.secureID = s.pendSecure.hash, s.pendSecure.raw
		next.SecureSeen = now
	}
	next.Expires = m.storeExpiry(next)
	return next, out
}

// save writes s's change set (or a touch) and queues the cookies to send.
// The caller holds s.mu.
func (m *Manager) save(s *Session) error {
	if s.destroy {
		if !s.headersSent && !s.clearSite {
			m.queueClear(s)
		}
		return nil
	}
	if !s.canSave() {
		if s.changed() && !s.headersSent {
			return ErrPlainHTTP // answered with a 500 that names the fix
		}
		if s.changed() {
			m.cfg.Logger.Error("session: changes not saved", "err", ErrPlainHTTP)
		}
		return nil
	}
	if s.rec == nil {
		if len(s.sets) == 0 && !s.userSet {
			return nil // lazy: an anonymous request that stores nothing writes nothing
		}
		if s.headersSent {
			err := fmt.Errorf("%w: a new session was started after the response began", ErrResponseStarted)
			m.cfg.Logger.Error("session: changes not saved", "err", err)
			return err
		}
		return m.b.create(s, m.cfg.Now())
	}
	if !s.changed() && !s.touch && !s.bindSave && !s.count && !s.mixed.pending() {
		return nil
	}
	now := m.cfg.Now()
	if s.headersSent && (s.regen != regenNone || s.mixed.pending()) {
		s.regen = regenNone
		s.mixed = mixedState{}
		m.cfg.Logger.Error("session: regeneration skipped", "err",
			fmt.Errorf("%w: regeneration requested after the response began", ErrResponseStarted))
	}
	return m.b.save(s, now)
}

// afterSave installs the saved record and queues the cookies for new IDs.
func (m *Manager) afterSave(s *Session, rec *Record, out issued) {
	s.rec = rec
	s.loadedGen = rec.Generation
	s.resetChanges()
	if out.id != "" {
		s.rawID = out.id
		m.queueID(s, out.id)
	}
	if out.secureID != "" {
		s.rawSecure = out.secureID
		m.queueSecureID(s, out.secureID)
	}
	m.auditRotation(s, rec, out.rotation)
}

func (s *Session) resetChanges() {
	s.sets, s.dels, s.cleared, s.userSet, s.user = nil, nil, false, false, ""
	s.regen, s.touch, s.bindSave, s.count = regenNone, false, false, false
	s.regenWhy = ""
	s.pendID, s.pendSecure = pending{}, pending{}
	s.mixed = mixedState{}
}

// theft handles an obsolete ID used after its grace window.
//
// In mixed mode an obsolete insecure ID is refused and audited but never
// triggers the theft action: it travelled in clear by design, so a passive
// sniffer replaying it must not be able to log the user out.
// Obsolete secure IDs and HTTPS-only IDs keep the configured action.
func (m *Manager) theft(s *Session, rec *Record, a Alias) {
	ctx := s.ctx
	action := [...]string{"revoke-user", "destroy-session", "log-only"}[m.cfg.TheftAction]
	clear := m.cfg.Mode == Mixed && !a.Secure
	if clear {
		action = "refused"
	}
	attrs := []slog.Attr{
		slog.String("action", action),
		slog.Int("id_generation", a.Generation),
		slog.Int("current_generation", rec.Generation),
		slog.Time("grace_ended", a.Until),
		slog.Bool("secure_id", a.Secure),
	}
	if clear {
		attrs = append(attrs, slog.String("reason", "insecure ID: it travels in clear, so its replay is not proof of theft"))
	}
	// Evidence for later investigation: a snapshot of the user's sessions.
	if rec.User != "" && !clear {
		// (the cookie backend lists nothing)
		if list, err := m.b.userRecords(ctx, rec.User); err == nil {
			group := make([]any, 0, len(list))
			now := m.cfg.Now()
			for _, r := range list {
				if !m.live(r, now) {
					continue // ended; kept only to answer "expired"
				}
				group = append(group, slog.Group(fmt.Sprint(len(group)),
					slog.String("ref", r.Ref), slog.Time("created", r.Created),
					slog.Time("last_seen", r.LastSeen), slog.String("ip", r.IP),
					slog.String("user_agent", r.UserAgent)))
			}
			attrs = append(attrs, slog.Group("user_sessions", group...))
		}
	}
	m.audit(ctx, Event{Type: "session.obsolete_id", Ref: rec.Ref,
		User: rec.User, IP: s.ipString(), UserAgent: s.ua, Attrs: attrs})
	if clear {
		return
	}
	var err error
	switch m.cfg.TheftAction {
	case RevokeUser:
		if rec.User != "" {
			_, err = m.RevokeUserSessions(ctx, rec.User, "")
		} else {
			err = m.b.destroy(ctx, rec)
		}
	case DestroySession:
		err = m.b.destroy(ctx, rec)
	}
	if err != nil {
		m.cfg.Logger.Error("session: theft action failed", "ref", rec.Ref, "err", err)
	}
}

// audit sends e to the Auditor, with the time and the realm filled in.
func (m *Manager) audit(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = m.cfg.Now()
	}
	if m.cfg.Realm != "" {
		e.Attrs = append(e.Attrs, slog.String("realm", m.cfg.Realm))
	}
	m.cfg.Auditor.Audit(ctx, e)
}

// RunGC has the store delete expired records every interval (0:
// DefaultGCInterval) until ctx ends, logging failures; with a cookie codec it
// returns at once. Run it in its own goroutine.
func (m *Manager) RunGC(ctx context.Context, every time.Duration) {
	m.b.runGC(ctx, cmp.Or(every, DefaultGCInterval))
}

// errorResponse hands err to the configured error handler.
func (m *Manager) errorResponse(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrIdentityChanged):
		// A race with a login or logout (audited), not a failure.
		m.cfg.Logger.Info("session: request refused", "err", err, "path", r.URL.Path)
	case !errors.Is(err, ErrPlainHTTP):
		m.cfg.Logger.Error("session: request refused", "err", err, "path", r.URL.Path)
	case m.plainHTTPLogged.CompareAndSwap(false, true):
		// A setup mistake, not an incident: once is loud enough.
		m.cfg.Logger.Error("session: request refused (logged once)", "err", err, "path", r.URL.Path)
	default:
		m.cfg.Logger.Debug("session: request refused", "err", err, "path", r.URL.Path)
	}
	m.cfg.ErrorHandler(w, r, err)
}
