package session

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/token"
)

// Handler loads the request's session, serves next with it in the
// context (FromContext), and saves it when the response starts — so the
// cookie goes out with the headers, even on redirects and errors. If the
// session cannot be loaded or saved because the store is down, the client
// gets the ErrorHandler's 503 instead of a silently new, empty session.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{}
		s := &st.sess
		s.m = m
		if err := m.load(s, r); err != nil {
			m.errorResponse(w, r, err)
			return
		}
		defer s.release()
		if m.redirectStaySecure(s, w, r) {
			return
		}
		st.rw = responseWriter{ResponseWriter: w, s: s, r: r}
		s.ctx = context.WithValue(r.Context(), ctxKey{}, s)
		next.ServeHTTP(&st.rw, r.WithContext(s.ctx))
		st.rw.finish()
	})
}

// state is one allocation holding a request's session and its writer.
type state struct {
	sess Session
	rw   responseWriter
}

// load finds the request's live record, if any. Only store failures and
// throttling are errors; everything else yields "no session".
func (m *Manager) load(s *Session, r *http.Request) error {
	s.ctx = r.Context()
	s.secure = m.IsSecure(r)
	s.ip = clientIP(r, m.cfg.TrustedProxies)
	s.ua = r.UserAgent()
	if len(s.ua) > 512 {
		s.ua = s.ua[:512]
	}
	now := m.cfg.Now()

	name := m.cfg.Cookie.Name
	if m.cfg.Mode == Mixed {
		return m.loadMixed(s, r, now)
	}
	if !s.secure {
		if !m.cfg.AllowHTTP || !loopbackListener(r) {
			return nil // HTTPS-only: a cookie over plain HTTP is never used
		}
		s.devHTTP = true
	}
	value, n := cookieValues(r, name)
	if n == 0 {
		return nil
	}
	s.hadCookie = true
	if n > 1 {
		m.cfg.Auditor.Audit(s.ctx, Event{Time: now, Type: "session.duplicate_cookie", IP: s.ipString(), UserAgent: s.ua})
		return nil
	}
	return m.b.load(s, value, now)
}

// lookup resolves a presented raw ID to a live record and sets s.id to the
// client's current raw ID. nil, nil means "no session" (unknown, expired,
// obsolete after grace, malformed).
func (m *Manager) lookup(s *Session, raw string, secure bool, now time.Time) (*Record, error) {
	h, ok := token.ParseIn(m.cfg.Realm, raw)
	if !ok {
		return nil, m.unknownID(s, now, "malformed")
	}
	rec, err := m.cfg.Store.Load(s.ctx, h)
	if errors.Is(err, ErrNotFound) {
		return nil, m.unknownID(s, now, "unknown")
	}
	if err != nil {
		return nil, unavailable("load", err)
	}
	if rec.Realm != m.cfg.Realm {
		// The hash is realm-bound, so this takes a store that ignores it
		// (or a forged row): never adopt another realm's record.
		return nil, m.foreignRealm(s, rec, now)
	}
	if !m.live(rec, now) {
		return nil, m.expired(s, rec, secure, now) // no session, audited, cookie cleared
	}
	current := rec.ID
	if secure {
		current = rec.SecureID
	}
	if h == current {
		s.setRaw(secure, raw)
		return rec, nil
	}
	i := slices.IndexFunc(rec.Aliases, func(a Alias) bool { return a.Hash == h })
	if i < 0 || rec.Aliases[i].Secure != secure {
		// An insecure ID presented as secure or the reverse: never crossed.
		return nil, nil
	}
	a := rec.Aliases[i]
	if now.Before(a.Until) {
		// Grace window: lead the client to the current ID if it may have it.
		if cur := follow(rec, raw, secure); cur != "" {
			s.setRaw(secure, cur)
			if secure {
				m.queueSecureID(s, cur)
			} else {
				m.queueID(s, cur)
			}
			return rec, nil
		}
		return nil, nil // pre-privilege-change ID: anonymous, not an attack yet
	}
	m.theft(s, rec, a)
	return nil, nil
}

// foreignRealm refuses a record of another realm: strict mode, as if the
// ID were unknown, and audited.
func (m *Manager) foreignRealm(s *Session, rec *Record, now time.Time) error {
	m.audit(s.ctx, Event{Time: now, Type: "session.foreign_realm", Ref: rec.Ref, IP: s.ipString(), UserAgent: s.ua,
		Attrs: []slog.Attr{slog.String("record_realm", rec.Realm)}})
	return m.unknownID(s, now, "foreign realm")
}

// unknownID counts an unknown ID against the client and throttles it past
// Config.UnknownIDLimit per minute.
func (m *Manager) unknownID(s *Session, now time.Time, why string) error {
	if emit, n := m.unknownSample.hit(now, unknownSampleEvery); emit {
		m.audit(s.ctx, Event{Time: now, Type: "session.unknown_id", IP: s.ipString(), UserAgent: s.ua,
			Attrs: []slog.Attr{slog.String("reason", why), slog.Int("count", n),
				slog.Duration("sample_interval", unknownSampleEvery)}})
	}
	return m.countBadID(s, now)
}

// countBadID counts an ID that opened no session (unknown or expired)
// against the client: past Config.UnknownIDLimit per minute it is
// throttled, and its first crossing audited.
func (m *Manager) countBadID(s *Session, now time.Time) error {
	over, first := m.unknown.hit(s.ip, now)
	if first {
		m.cfg.Auditor.Audit(s.ctx, Event{Time: now, Type: "session.id_bruteforce", IP: s.ipString(), UserAgent: s.ua})
	}
	if over {
		return ErrThrottled
	}
	return nil
}

// adopt makes rec the request's session after the binding check, taking
// the lock if configured and noting rotation and touch.
func (m *Manager) adopt(s *Session, rec *Record, now time.Time) error {
	var b bindingResult
	if m.cfg.Binding.IP != BindOff || m.cfg.Binding.UserAgent != BindOff {
		b = m.cfg.Binding.check(rec, s.ipString(), s.ua)
	}
	if b.changed {
		action := "log"
		if b.reject {
			action = "reject"
		} else if b.regenerate {
			action = "regenerate"
		}
		m.cfg.Auditor.Audit(s.ctx, Event{Time: now, Type: "session.binding_mismatch", Ref: rec.Ref, User: rec.User,
			IP: s.ipString(), UserAgent: s.ua, Attrs: []slog.Attr{slog.String("changed", b.why), slog.String("action", action),
				slog.String("recorded_ip", rec.IP), slog.String("recorded_user_agent", rec.UserAgent)}})
		if b.reject {
			s.rawID, s.rawSecure = "", ""
			s.cookies = s.cookies[:0]
			return nil
		}
		s.bindSave = true
		if b.regenerate {
			s.regen, s.regenWhy = regenHard, "binding"
		}
	}
	if m.cfg.Lock {
		fresh, err := m.b.lock(s, rec)
		if err != nil || fresh == nil {
			return err
		}
		rec = fresh
	}
	s.rec = rec
	s.loadedGen = rec.Generation
	if m.cfg.RotateEvery > 0 && now.Sub(rec.Rotated) >= m.cfg.RotateEvery && s.regen == regenNone {
		s.regen, s.regenWhy = regenSoft, "periodic"
	}
	if m.cfg.RotateRequests > 0 {
		s.count = true
		if rec.Requests+1 >= m.cfg.RotateRequests && s.regen == regenNone {
			s.regen, s.regenWhy = regenSoft, "requests"
		}
	}
	if now.Sub(rec.LastSeen) >= m.cfg.TouchInterval {
		s.touch = true
	}
	return nil
}

func (s *Session) setRaw(secure bool, raw string) {
	if secure {
		s.rawSecure = raw
	} else {
		s.rawID = raw
	}
}

// cookieOut is a cookie queued for the response.
type cookieOut struct {
	c http.Cookie
}

func (m *Manager) baseCookie(name string, secure bool) http.Cookie {
	c := http.Cookie{
		Name:     name,
		Path:     m.cfg.Cookie.Path,
		Domain:   m.cfg.Cookie.Domain,
		Secure:   secure,
		HttpOnly: true,
		SameSite: m.cfg.Cookie.SameSite,
	}
	if m.cfg.Cookie.Persist > 0 {
		c.MaxAge = int(m.cfg.Cookie.Persist / time.Second)
	}
	return c
}

func (s *Session) queue(c http.Cookie) {
	for i := range s.cookies {
		if s.cookies[i].c.Name == c.Name {
			s.cookies[i].c = c
			return
		}
	}
	s.cookies = append(s.cookies, cookieOut{c})
}

// queueID sends the primary cookie (the only one in HTTPS-only mode, the
// insecure one in mixed mode) with value id.
func (m *Manager) queueID(s *Session, id string) {
	c := m.baseCookie(m.cfg.Cookie.Name, m.cfg.Mode == HTTPSOnly && !s.devHTTP)
	c.Value = id
	s.queue(c)
}

// queueClear expires every session cookie with the attributes it was set
// with, and asks the browser to drop the site's cookies.
func (m *Manager) queueClear(s *Session) {
	names := []string{m.cfg.Cookie.Name}
	if m.cfg.Mode == Mixed {
		names = append(names, m.cfg.Cookie.SecureName)
	}
	for i, name := range names {
		secure := (m.cfg.Mode == HTTPSOnly && !s.devHTTP) || i == 1
		if secure && !s.secure {
			continue // a Secure cookie cannot be set (or cleared) over HTTP
		}
		c := m.baseCookie(name, secure)
		c.MaxAge = -1
		s.queue(c)
	}
	s.clearSite = true
}

// responseWriter saves the session just before the headers go out.
type responseWriter struct {
	http.ResponseWriter
	s         *Session
	r         *http.Request
	committed bool
	failed    bool // the save failed: the handler's output is discarded
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) commit() {
	if w.committed {
		return
	}
	w.committed = true
	s := w.s
	s.mu.Lock()
	err := s.m.save(s)
	if err != nil && !errors.Is(err, ErrResponseStarted) {
		s.mu.Unlock()
		w.failed = true
		s.m.errorResponse(w.ResponseWriter, w.r, err)
		return
	}
	s.writeHeaders(w.ResponseWriter.Header())
	s.headersSent = true
	s.mu.Unlock()
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.commit()
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.commit()
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Flush() {
	w.commit()
	if w.failed {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack saves the session first (a WebSocket upgrade keeps its cookie
// out of band: the session is saved, no cookie can be sent).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.commit()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// finish runs after the handler: it commits if nothing was written, and
// saves changes made after the response started.
func (w *responseWriter) finish() {
	if !w.committed {
		w.commit()
		return
	}
	if w.failed {
		return
	}
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.changed() && !s.destroy {
		return // nothing changed after the response started
	}
	if err := s.m.save(s); err != nil && !errors.Is(err, ErrResponseStarted) {
		s.m.cfg.Logger.Error("session: saving changes made after the response started failed", "err", err)
	}
}

// writeHeaders adds the queued cookies (exactly one Set-Cookie per name)
// and the cache headers.
func (s *Session) writeHeaders(h http.Header) {
	setsCookie := len(s.cookies) > 0
	if setsCookie {
		var keep []string
		for _, line := range h["Set-Cookie"] {
			name, _, _ := strings.Cut(line, "=")
			if !slices.ContainsFunc(s.cookies, func(c cookieOut) bool { return c.c.Name == name }) {
				keep = append(keep, line)
			}
		}
		for _, c := range s.cookies {
			if v := c.c.String(); v != "" {
				keep = append(keep, v)
			}
		}
		h["Set-Cookie"] = keep
		s.cookies = s.cookies[:0]
	}
	if s.clearSite {
		h.Set("Clear-Site-Data", `"cookies"`)
	}
	s.cacheHeaders(h, setsCookie)
}

// cacheHeaders is the one place that decides how a response may be
// cached. A response to a request that carried a session (a live record,
// signed in or anonymous, one created by this request, or only a session
// cookie) or that sets or clears a session cookie varies on Cookie and
// is Cache-Control: no-store, so no shared cache keeps it. A handler that
// set Cache-Control itself keeps it (a public asset served to a signed-in
// user, say) — except on a response that sets a session cookie, which is
// always no-store.
func (s *Session) cacheHeaders(h http.Header, setsCookie bool) {
	if !setsCookie && s.rec == nil && !s.destroy && !s.hadCookie {
		return // no session: the handler's response is everyone's
	}
	if _, set := h["Cache-Control"]; setsCookie || !set {
		h.Set("Cache-Control", "no-store")
	}
	addVary(h)
}

func addVary(h http.Header) {
	vary, ok := h["Vary"]
	if !ok {
		h["Vary"] = []string{"Cookie"} // canonical key already: skip Header.Add's work
		return
	}
	for _, v := range vary {
		for f := range strings.SplitSeq(v, ",") {
			if t := strings.TrimSpace(f); strings.EqualFold(t, "Cookie") || t == "*" {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}

func parseAddr(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

// loopbackListener reports whether r arrived on a loopback listener
// (the local address net/http records for each connection), where plain
// HTTP cannot be sniffed off a network.
func loopbackListener(r *http.Request) bool {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
