package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sessiond/sessiond/session"
)

// AdminHandler serves the admin API (JSON, bearer token) and /metrics on
// the admin listener, which should stay on loopback or a private network.
//
//	GET    /api/users/{user}/sessions         list a user's sessions
//	DELETE /api/users/{user}/sessions         revoke all of them
//	DELETE /api/users/{user}/sessions/{ref}   revoke one
//	GET    /healthz                           liveness (no token)
//	GET    /metrics                           Prometheus (Config.MetricsPath)
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	api := http.NewServeMux()
	api.HandleFunc("GET /api/users/{user}/sessions", g.adminList)
	api.HandleFunc("DELETE /api/users/{user}/sessions", g.adminRevokeAll)
	api.HandleFunc("DELETE /api/users/{user}/sessions/{ref}", g.adminRevoke)
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

func (g *Gateway) adminManager() (*session.Manager, error) {
	if g.admin == nil {
		return nil, errors.ErrUnsupported
	}
	return g.admin, nil
}

func (g *Gateway) adminList(w http.ResponseWriter, r *http.Request) {
	m, err := g.adminManager()
	if err != nil {
		g.adminError(w, err)
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
	writeJSON(w, http.StatusOK, map[string]any{"user": r.PathValue("user"), "sessions": out})
}

func (g *Gateway) adminRevokeAll(w http.ResponseWriter, r *http.Request) {
	var n int
	var err error
	if g.codec != nil {
		// Cookie sessions: revoke through the codec's revocation store.
		err = g.codec.RevokeUser(r.Context(), r.PathValue("user"), time.Now())
	} else {
		n, err = g.admin.RevokeUserSessions(r.Context(), r.PathValue("user"), "")
	}
	if err != nil {
		g.adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": n})
}

func (g *Gateway) adminRevoke(w http.ResponseWriter, r *http.Request) {
	m, err := g.adminManager()
	if err == nil {
		err = m.RevokeSession(r.Context(), r.PathValue("user"), r.PathValue("ref"))
	}
	if err != nil {
		g.adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": 1})
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

// countingAuditor counts events for /metrics and passes them on.
type countingAuditor struct {
	next session.Auditor
	m    *metrics
}

func (a countingAuditor) Audit(ctx context.Context, e session.Event) {
	a.m.audit.WithLabelValues(e.Type).Inc()
	a.next.Audit(ctx, e)
}
