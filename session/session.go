package session

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Session is one request's view of its session. It records what the
// handler changes (a change set) and the Manager saves that change set by
// compare-and-swap when the response starts, re-applying it to the newest
// version on conflict: two concurrent requests that change different keys
// both win; for the same key the last writer wins.
//
// A Session is safe for concurrent use by the goroutines of its request.
// It must not be used after the request's handler has returned.
type Session struct {
	m   *Manager
	mu  sync.Mutex
	ctx context.Context

	secure bool // the request came over HTTPS
	// devHTTP: plain HTTP on a loopback listener with Config.AllowHTTP
	// (HTTPS-only mode): served as if secure, with a non-Secure cookie.
	devHTTP bool
	ip      netip.Addr
	ipStr   string // s.ip as text, made on first use (ipString)
	ua      string

	rec *Record // as loaded (read-only; nil: no live record yet)
	// rawID and rawSecure are the client's current raw IDs (insecure or
	// only ID; mixed-mode secure ID), as far as this request knows them.
	rawID     string
	rawSecure string
	hadCookie bool
	// loadedRotated is rec.Rotated at load: a periodic rotation is skipped
	// if a concurrent request already rotated.
	loadedRotated time.Time

	// change set
	sets     map[string]string
	dels     map[string]struct{}
	cleared  bool
	userSet  bool
	user     string
	regen    regenKind
	regenWhy string // why regen was set, when the Manager set it (audit)
	// issueAfter, if set, is the earliest time the next regenerated ID may
	// count as issued (a cookie session kept by "revoke all others": its
	// new cookie must be issued after the revocation time).
	issueAfter time.Time
	destroy    bool
	touch      bool
	bindSave   bool
	count      bool // RotateRequests: count this request
	pendID     pending
	pendSecure pending

	// mixed mode
	mixed mixedState

	// response state
	headersSent bool
	cookies     []cookieOut
	clearSite   bool
	unlock      func()
	lateErr     error
}

type regenKind int

const (
	regenNone regenKind = iota
	regenSoft           // periodic or Regenerate: concurrent rotations coalesce; old IDs lead to the new one
	regenHard           // privilege change: always a fresh ID; old IDs never lead to it
)

// ipString is the client IP as text, formatted only when something
// records it (a new record, an audit event, binding).
func (s *Session) ipString() string {
	if s.ipStr == "" && s.ip.IsValid() {
		s.ipStr = s.ip.String()
	}
	return s.ipStr
}

// FromContext returns the request's session. It is nil when the request
// did not pass through a Manager's Handler.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

type ctxKey struct{}

func (s *Session) changed() bool {
	return len(s.sets) > 0 || len(s.dels) > 0 || s.cleared || s.userSet || s.regen != regenNone
}

// Get returns the value of key, or "" if it is not set.
func (s *Session) Get(key string) string {
	v, _ := s.Lookup(key)
	return v
}

// Lookup returns the value of key and whether it is set.
func (s *Session) Lookup(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookup(key)
}

func (s *Session) lookup(key string) (string, bool) {
	if !s.visible(key) {
		return "", false
	}
	if v, ok := s.sets[key]; ok {
		return v, true
	}
	if _, ok := s.dels[key]; ok || s.cleared || s.rec == nil {
		return "", false
	}
	v, ok := s.rec.Data[key]
	return v, ok
}

// Set sets key to value. Keys under "secure." belong to the secure
// partition: in mixed mode over plain HTTP they can be neither read nor
// written (Set of such a key is ignored and logged).
func (s *Session) Set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.visible(key) {
		s.m.cfg.Logger.Warn("session: write to the secure partition over plain HTTP ignored", "key", key)
		return
	}
	if s.sets == nil {
		s.sets = map[string]string{}
	}
	s.sets[key] = value
	delete(s.dels, key)
}

// Delete removes key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.visible(key) {
		return
	}
	delete(s.sets, key)
	if s.dels == nil {
		s.dels = map[string]struct{}{}
	}
	s.dels[key] = struct{}{}
}

// Clear removes every key this request can see (over plain HTTP in mixed
// mode, the secure partition is kept).
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleared = true
	s.sets = nil
	s.dels = nil
}

// Keys returns the visible keys, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.values()))
}

// Values returns a copy of the visible key/value pairs.
func (s *Session) Values() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values()
}

func (s *Session) values() map[string]string {
	out := map[string]string{}
	if s.rec != nil && !s.cleared {
		for k, v := range s.rec.Data {
			if _, gone := s.dels[k]; !gone && s.visible(k) {
				out[k] = v
			}
		}
	}
	maps.Copy(out, s.sets)
	return out
}

// User returns the logged-in user, or "" (in mixed mode over plain HTTP
// the user is hidden unless Config.AllowHTTPAuth).
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked()
}

func (s *Session) userLocked() string {
	if !s.identityVisible() {
		return ""
	}
	if s.userSet {
		return s.user
	}
	if s.rec != nil {
		return s.rec.User
	}
	return ""
}

// IsNew reports whether the request arrived without a live session.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec == nil
}

// Ref is the record's stable, non-secret reference ("" until the session
// is stored). It survives regenerations and is safe to log.
func (s *Session) Ref() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec == nil {
		return ""
	}
	return s.rec.Ref
}

// Secure reports whether the request came over HTTPS.
func (s *Session) Secure() bool { return s.secure }

// Regenerate issues a new ID for this session at the end of the request,
// keeping its data. It is soft (SPEC §5): the old ID stays usable for the
// grace window and leads its holder to the new one, on any process sharing
// the store, so requests in flight are not logged out; if a concurrent
// request of the session rotated after this one loaded, that rotation
// stands for this one. Login, Logout and a change of user are hard.
func (s *Session) Regenerate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headersSent {
		return ErrResponseStarted
	}
	if s.regen == regenNone {
		s.regen = regenSoft
	}
	return nil
}

// Login regenerates the ID first, then sets the user, so an ID known
// before the login (fixation) never becomes authenticated.
func (s *Session) Login(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headersSent {
		return ErrResponseStarted
	}
	if err := s.loginAllowed(); err != nil {
		return err
	}
	if strings.IndexByte(user, 0) >= 0 {
		return ErrInvalidUser
	}
	s.regen = regenHard
	s.userSet, s.user = true, user
	return nil
}

// Logout destroys the session on the server and clears its cookie. Use
// Login with a new identity (or Regenerate) to keep the data instead.
func (s *Session) Logout() error { return s.end("session.logout") }

// Destroy deletes the record on the server at once — a replayed ID is dead
// from now on — and clears the cookie if the response has not started.
func (s *Session) Destroy() error { return s.end("session.destroyed") }

// end destroys the session and audits it as event.
func (s *Session) end(event string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroy = true
	s.sets, s.dels, s.cleared, s.userSet, s.regen = nil, nil, false, false, regenNone
	if s.rec == nil {
		return nil
	}
	if err := s.m.b.destroy(s.ctx, s.rec); err != nil {
		return err
	}
	s.m.audit(s.ctx, Event{Type: event, Ref: s.rec.Ref, User: s.rec.User, IP: s.ipString(), UserAgent: s.ua})
	s.rec = nil
	return nil
}

// Commit saves the session now and releases its lock (PHP's
// read_and_close / session_commit), so a long-running handler does not
// hold other requests of the session back. Later changes are still saved
// at the end of the request, without the lock; those that would need a
// new cookie fail with ErrResponseStarted once the response has started.
func (s *Session) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.m.save(s)
	s.release()
	return err
}

func (s *Session) release() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// Info describes one active session of a user.
type Info struct {
	Ref       string
	Created   time.Time
	LastSeen  time.Time
	IP        string
	UserAgent string
	Area      string // from Config.Locator, if set
	Current   bool   // the session of the request that asked
}

// isSecureKey reports whether key belongs to the secure partition.
func isSecureKey(key string) bool { return strings.HasPrefix(key, "secure.") }

// Authenticated reports whether the session has a user, even where the
// user itself is hidden (mixed mode over HTTP). Redirect rules use it to
// send authenticated sessions to HTTPS; it reveals one bit, never who.
func (s *Session) Authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userSet {
		return s.user != ""
	}
	return s.rec != nil && s.rec.User != ""
}

// SteppedUp reports whether a mixed-mode session has had HTTPS activity
// since its insecure ID was last issued (the next HTTP request steps down).
func (s *Session) SteppedUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec != nil && !s.rec.SecureSeen.IsZero()
}
