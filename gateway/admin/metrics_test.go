package admin

import (
	"maps"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestMetricsCountRequests: requests are counted by site and status
// class, concurrently and across sites, and their latency is observed
// per site.
func TestMetricsCountRequests(t *testing.T) {
	m := NewMetrics()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m.Request("shop", 0, time.Millisecond) // nothing written: 200
				m.Request("shop", 404, time.Millisecond)
				m.Request("blog", 503, 2*time.Second)
			}
		})
	}
	wg.Wait()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, s := range series(families, "sessiond_requests_total") {
		counts[label(s, "site")+" "+label(s, "code")] = s.GetCounter().GetValue()
	}
	if want := map[string]float64{"shop 2xx": 800, "shop 4xx": 800, "blog 5xx": 800}; !maps.Equal(counts, want) {
		t.Errorf("sessiond_requests_total: %v, want %v", counts, want)
	}
	want := map[string]struct {
		count uint64
		sum   float64
	}{"shop": {1600, 1.6}, "blog": {800, 1600}}
	latency := series(families, "sessiond_request_seconds")
	for _, s := range latency {
		site, h := label(s, "site"), s.GetHistogram()
		w := want[site]
		if h.GetSampleCount() != w.count || h.GetSampleSum() < w.sum*0.999 || h.GetSampleSum() > w.sum*1.001 {
			t.Errorf("sessiond_request_seconds{site=%q}: count %d, sum %v; want %d, %v", site, h.GetSampleCount(), h.GetSampleSum(), w.count, w.sum)
		}
	}
	if len(latency) != len(want) {
		t.Errorf("latency series for %d sites, want %d", len(latency), len(want))
	}
}

// series are the samples of the family named name.
func series(families []*dto.MetricFamily, name string) []*dto.Metric {
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

// label is the value of a sample's label.
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
