// Package admin is the gateway's admin API (JSON behind a bearer token:
// the realms, listing and revoking a user's sessions, health and
// readiness) and its Prometheus metrics.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessiond/sessiond/session"
)

// Config is what the admin API needs from the gateway.
type Config struct {
	// Token is the bearer token; "" refuses every API request.
	Token string
	// Store is probed by /readyz; nil (a cookie store) is always ready.
	Store session.Store
	// Cookies says sessions live in cookies: revocations cannot be counted.
	Cookies bool
	// Realms holds one Manager per realm; Sites the site names of each.
	Realms map[string]*session.Manager
	Sites  map[string][]string
	// Forget drops a user's remember-me keys in a realm, so that a
	// revoked browser cannot sign straight back in.
	Forget func(ctx context.Context, realm, user string) error
	// ClientIP names the client of a request for the audit log.
	ClientIP func(*http.Request) string
	Auditor  session.Auditor
	Logger   *slog.Logger
	// MetricsPath serves Metrics there ("" serves none).
	MetricsPath string
	Metrics     *Metrics
}

type api struct{ Config }

// Authorized reports whether r carries the bearer token, compared in
// constant time; an empty token authorizes nothing.
func Authorized(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Handler serves the admin API (JSON, bearer token) and /metrics on
// the admin listener, which should stay on loopback or a private network.
// Users are per realm (a user name of one site is not the same user on
// another), so every session route names the realm:
//
//	GET    /api/realms                                      the realms and their sites
//	GET    /api/realms/{realm}/users/{user}/sessions        list a user's sessions
//	DELETE /api/realms/{realm}/users/{user}/sessions        revoke all of them
//	DELETE /api/realms/{realm}/users/{user}/sessions/{ref}  revoke one
//	GET    /healthz                                         liveness (no token)
//	GET    /readyz                                          readiness: the store answers (no token; else 503)
//	GET    /metrics                                         Prometheus (Config.MetricsPath)
func Handler(c Config) http.Handler {
	g := &api{c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := Ready(r.Context(), g.Store); err != nil {
			g.Logger.Warn("gateway: not ready", "err", err)
			http.Error(w, "not ready: the session store is unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	routes := http.NewServeMux()
	routes.HandleFunc("GET /api/realms", g.adminRealms)
	routes.HandleFunc("GET /api/realms/{realm}/users/{user}/sessions", g.adminList)
	routes.HandleFunc("DELETE /api/realms/{realm}/users/{user}/sessions", g.adminRevokeAll)
	routes.HandleFunc("DELETE /api/realms/{realm}/users/{user}/sessions/{ref}", g.adminRevoke)
	if g.MetricsPath != "" {
		routes.Handle("GET "+g.MetricsPath, promhttp.HandlerFor(g.Metrics.reg, promhttp.HandlerOpts{}))
	}
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(r, g.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		routes.ServeHTTP(w, r)
	})
	mux.Handle("/api/", guarded)
	if g.MetricsPath != "" {
		mux.Handle(g.MetricsPath, guarded)
	}
	return mux
}

// Ready reports whether the gateway can serve sessions: its store answers
// a lookup (of an ID that names nothing) within two seconds. A cookie
// store (nil) needs nothing to be ready.
func Ready(ctx context.Context, store session.Store) error {
	if store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var probe session.Hash // a random hash names nothing, but the store must look
	rand.Read(probe[:])
	if _, err := store.Load(ctx, probe); err != nil && !errors.Is(err, session.ErrNotFound) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (g *api) adminError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, session.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such session"})
	case errors.Is(err, errors.ErrUnsupported):
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "not supported by this session store"})
	default:
		g.Logger.Error("gateway: admin", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "session store unavailable"})
	}
}

// Session is one session as the admin API lists it.
type Session struct {
	Ref       string    `json:"ref"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Area      string    `json:"area,omitempty"`
}

// SessionList is the admin API's answer listing a user's sessions.
type SessionList struct {
	Realm    string    `json:"realm,omitempty"`
	User     string    `json:"user"`
	Sessions []Session `json:"sessions"`
}

func (g *api) realmNames() []string {
	return slices.Sorted(maps.Keys(g.Realms))
}

// adminManager finds the Manager of the request's {realm}. It answers the
// error itself and returns nil if there is none.
func (g *api) adminManager(w http.ResponseWriter, r *http.Request) (*session.Manager, string) {
	realm := r.PathValue("realm")
	m, ok := g.Realms[realm]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such realm", "realms": g.realmNames()})
		return nil, ""
	}
	return m, realm
}

func (g *api) adminRealms(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"realms": g.Sites})
}

// adminAudit records an admin action on sessions.
func (g *api) adminAudit(r *http.Request, action, realm, user, ref string, n int) {
	g.Auditor.Audit(r.Context(), session.Event{Time: time.Now(), Type: "admin." + action, User: user, Ref: ref,
		IP: g.ClientIP(r), UserAgent: r.UserAgent(),
		Attrs: []slog.Attr{slog.String("realm", realm), slog.Int("count", n)}})
}

func (g *api) adminList(w http.ResponseWriter, r *http.Request) {
	m, realm := g.adminManager(w, r)
	if m == nil {
		return
	}
	list, err := m.ListUserSessions(context.WithoutCancel(r.Context()), r.PathValue("user"))
	if err != nil {
		g.adminError(w, err)
		return
	}
	out := make([]Session, 0, len(list))
	for _, s := range list {
		out = append(out, Session{s.Ref, s.Created, s.LastSeen, s.IP, s.UserAgent, s.Area})
	}
	writeJSON(w, http.StatusOK, SessionList{Realm: realm, User: r.PathValue("user"), Sessions: out})
}

func (g *api) adminRevokeAll(w http.ResponseWriter, r *http.Request) {
	m, realm := g.adminManager(w, r)
	if m == nil {
		return
	}
	// Server stores destroy the records; the cookie store records a
	// per-user "revoked before" time in its revocation list.
	n, err := m.RevokeUserSessions(context.WithoutCancel(r.Context()), r.PathValue("user"), "")
	if err != nil {
		g.adminError(w, err)
		return
	}
	// Remembered browsers would sign straight back in.
	if err := g.Forget(context.WithoutCancel(r.Context()), realm, r.PathValue("user")); err != nil {
		g.adminError(w, err)
		return
	}
	g.adminAudit(r, "revoke_all", realm, r.PathValue("user"), "", n)
	resp := map[string]any{"realm": realm, "revoked": n}
	if g.Cookies {
		resp["revoked"] = "all" // cookies cannot be counted, only revoked
	}
	writeJSON(w, http.StatusOK, resp)
}

func (g *api) adminRevoke(w http.ResponseWriter, r *http.Request) {
	m, realm := g.adminManager(w, r)
	if m == nil {
		return
	}
	if err := m.RevokeSession(context.WithoutCancel(r.Context()), r.PathValue("user"), r.PathValue("ref")); err != nil {
		g.adminError(w, err)
		return
	}
	// Keys are not tied to sessions: every remembered browser of the user
	// goes, or the revoked one would sign straight back in.
	if err := g.Forget(context.WithoutCancel(r.Context()), realm, r.PathValue("user")); err != nil {
		g.adminError(w, err)
		return
	}
	g.adminAudit(r, "revoke", realm, r.PathValue("user"), r.PathValue("ref"), 1)
	writeJSON(w, http.StatusOK, map[string]any{"realm": realm, "revoked": 1})
}
