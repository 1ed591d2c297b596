package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sessiond/sessiond/session"
)

// AdminHandler serves the admin API (JSON, bearer token) and /metrics on
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
//
// The older /api/users/{user}/sessions[/{ref}] routes work when the gateway
// serves one realm only; with several they answer 400 naming the realms.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := g.Ready(r.Context()); err != nil {
			g.log.Warn("gateway: not ready", "err", err)
			http.Error(w, "not ready: the session store is unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	api := http.NewServeMux()
	api.HandleFunc("GET /api/realms", g.adminRealms)
	for _, prefix := range []string{"/api/realms/{realm}", "/api"} {
		api.HandleFunc("GET "+prefix+"/users/{user}/sessions", g.adminList)
		api.HandleFunc("DELETE "+prefix+"/users/{user}/sessions", g.adminRevokeAll)
		api.HandleFunc("DELETE "+prefix+"/users/{user}/sessions/{ref}", g.adminRevoke)
	}
	if g.metricsPath != "" {
		api.Handle("GET "+g.metricsPath, promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	}
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		api.ServeHTTP(w, r)
	})
	mux.Handle("/api/", guarded)
	if g.metricsPath != "" {
		mux.Handle(g.metricsPath, guarded)
	}
	return mux
}

// Ready reports whether the gateway can serve sessions: its store answers
// a lookup (of an ID that names nothing) within two seconds. A cookie
// store needs nothing to be ready.
func (g *Gateway) Ready(ctx context.Context) error {
	if g.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var probe session.Hash // a random hash names nothing, but the store must look
	rand.Read(probe[:])
	if _, err := g.store.Load(ctx, probe); err != nil && !errors.Is(err, session.ErrNotFound) {
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

func (g *Gateway) adminError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, session.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such session"})
	case errors.Is(err, errors.ErrUnsupported):
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "not supported by this session store"})
	default:
		g.log.Error("gateway: admin", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "session store unavailable"})
	}
}

type sessionJSON struct {
	Ref       string    `json:"ref"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Area      string    `json:"area,omitempty"`
}

func (g *Gateway) realmNames() []string {
	return slices.Sorted(maps.Keys(g.realms))
}

// adminManager finds the Manager of the request's realm: the {realm} path
// value, or the only realm for the older routes. It answers the error
// itself and returns nil if there is none.
func (g *Gateway) adminManager(w http.ResponseWriter, r *http.Request) (*session.Manager, string) {
	realm := r.PathValue("realm")
	if realm == "" {
		if len(g.realms) != 1 {
			writeJSON(w, http.StatusBadRequest, map[string]any{
				"error":  "this gateway serves several realms: use /api/realms/{realm}/users/{user}/sessions",
				"realms": g.realmNames()})
			return nil, ""
		}
		realm = g.realmNames()[0]
	}
	m, ok := g.realms[realm]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such realm", "realms": g.realmNames()})
		return nil, ""
	}
	return m, realm
}

func (g *Gateway) adminRealms(w http.ResponseWriter, r *http.Request) {
	sites := map[string][]string{}
	for _, s := range g.order {
		if s.m != nil {
			realm := s.m.Config().Realm
			sites[realm] = append(sites[realm], s.cfg.Name)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"realms": sites})
}

// adminAudit records an admin action on sessions.
func (g *Gateway) adminAudit(r *http.Request, action, realm, user, ref string, n int) {
	g.auditor.Audit(r.Context(), session.Event{Time: time.Now(), Type: "admin." + action, User: user, Ref: ref,
		IP: clientAddr(r), UserAgent: r.UserAgent(),
		Attrs: []slog.Attr{slog.String("realm", realm), slog.Int("count", n)}})
}

func (g *Gateway) adminList(w http.ResponseWriter, r *http.Request) {
	m, realm := g.adminManager(w, r)
	if m == nil {
		return
	}
	list, err := m.ListUserSessions(context.WithoutCancel(r.Context()), r.PathValue("user"))
	if err != nil {
		g.adminError(w, err)
		return
	}
	out := make([]sessionJSON, 0, len(list))
	for _, s := range list {
		out = append(out, sessionJSON{s.Ref, s.Created, s.LastSeen, s.IP, s.UserAgent, s.Area})
	}
	writeJSON(w, http.StatusOK, map[string]any{"realm": realm, "user": r.PathValue("user"), "sessions": out})
}

func (g *Gateway) adminRevokeAll(w http.ResponseWriter, r *http.Request) {
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
	if err := g.forgetUser(context.WithoutCancel(r.Context()), realm, r.PathValue("user")); err != nil {
		g.adminError(w, err)
		return
	}
	g.adminAudit(r, "revoke_all", realm, r.PathValue("user"), "", n)
	resp := map[string]any{"realm": realm, "revoked": n}
	if g.codec != nil {
		resp["revoked"] = "all" // cookies cannot be counted, only revoked
	}
	writeJSON(w, http.StatusOK, resp)
}

func (g *Gateway) adminRevoke(w http.ResponseWriter, r *http.Request) {
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
	if err := g.forgetUser(context.WithoutCancel(r.Context()), realm, r.PathValue("user")); err != nil {
		g.adminError(w, err)
		return
	}
	g.adminAudit(r, "revoke", realm, r.PathValue("user"), r.PathValue("ref"), 1)
	writeJSON(w, http.StatusOK, map[string]any{"realm": realm, "revoked": 1})
}

// metrics are the gateway's Prometheus series, in their own registry.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	audit    *prometheus.CounterVec
	logins   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sessiond_requests_total",
		Help: "Requests served, by site and status class."}, []string{"site", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sessiond_request_seconds",
		Help: "Request latency through the gateway.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"site"})
	m.audit = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sessiond_audit_events_total",
		Help: "Security events, by type."}, []string{"event"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sessiond_logins_total",
		Help: "Form logins at the gateway, by result."}, []string{"result"})
	m.reg.MustRegister(m.requests, m.latency, m.audit, m.logins,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) request(site string, code int, d time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	m.requests.WithLabelValues(site, string(rune('0'+code/100))+"xx").Inc()
	m.latency.WithLabelValues(site).Observe(d.Seconds())
}

func (m *metrics) login(result string) { m.logins.WithLabelValues(result).Inc() }

// storeGC exports the GC backlog of st, if it keeps one (SQL stores).
func (m *metrics) storeGC(st session.Store) {
	b, ok := st.(session.GCBacklogger)
	if !ok {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sessiond_store_gc_backlog_records",
			Help: "Expired records still stored when the store's last GC sweep ended."},
			func() float64 { n, _ := b.GCBacklog(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sessiond_store_gc_behind",
			Help: "1 while the store's GC falls behind: its last sweep took longer than the span of expiry times it covered."},
			func() float64 {
				if _, behind := b.GCBacklog(); behind {
					return 1
				}
				return 0
			}))
}

// countingAuditor counts events for /metrics and passes them on.
type countingAuditor struct {
	next session.Auditor
	m    *metrics
}

func (a countingAuditor) Audit(ctx context.Context, e session.Event) {
	a.m.audit.WithLabelValues(e.Type).Inc()
	a.next.Audit(ctx, e)
}
