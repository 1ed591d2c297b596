package admin

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/session"
)

// Metrics are the gateway's Prometheus series, in their own registry.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	audit    *prometheus.CounterVec
	logins   *prometheus.CounterVec

	// The series Request updates, by requestKey and by site: looked up
	// once each, not per request (WithLabelValues hashes and locks).
	counters  sync.Map // requestKey → prometheus.Counter
	latencies sync.Map // site → prometheus.Observer
}

type requestKey struct {
	site  string
	class int // the status code's first digit
}

// NewMetrics registers the gateway's series in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
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

// Request counts a served request.
func (m *Metrics) Request(site string, code int, d time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	k := requestKey{site, code / 100}
	c, ok := m.counters.Load(k)
	if !ok {
		c, _ = m.counters.LoadOrStore(k, m.requests.WithLabelValues(site, strconv.Itoa(k.class)+"xx"))
	}
	c.(prometheus.Counter).Inc()
	o, ok := m.latencies.Load(site)
	if !ok {
		o, _ = m.latencies.LoadOrStore(site, m.latency.WithLabelValues(site))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// Login counts a login attempt by result.
func (m *Metrics) Login(result string) { m.logins.WithLabelValues(result).Inc() }

// StoreGC exports the GC backlog of st, if it keeps one (SQL stores).
func (m *Metrics) StoreGC(st session.Store) {
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
	m    *Metrics
}

func (a countingAuditor) Audit(ctx context.Context, e session.Event) {
	a.m.audit.WithLabelValues(e.Type).Inc()
	a.next.Audit(ctx, e)
}

// Auditor counts next's events for /metrics and passes them on.
func (m *Metrics) Auditor(next session.Auditor) session.Auditor {
	return countingAuditor{next: next, m: m}
}
