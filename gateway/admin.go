package gateway

import (
	"context"
	"net/http"

	"github.com/sessiond/sessiond/gateway/admin"
)

// AdminHandler serves the admin API (JSON, bearer token) and /metrics on
// the admin listener, which should stay on loopback or a private network;
// the routes are admin.Handler's.
func (g *Gateway) AdminHandler() http.Handler {
	sites := map[string][]string{}
	for _, s := range g.order {
		if s.m != nil {
			realm := s.m.Config().Realm
			sites[realm] = append(sites[realm], s.cfg.Name)
		}
	}
	return admin.Handler(admin.Config{Token: g.token, Store: g.store, Cookies: g.codec != nil,
		Realms: g.realms, Sites: sites, Forget: g.forgetUser, ClientIP: clientAddr,
		Auditor: g.auditor, Logger: g.log, MetricsPath: g.metricsPath, Metrics: g.metrics})
}

// Ready reports whether the gateway can serve sessions (admin.Ready).
func (g *Gateway) Ready(ctx context.Context) error { return admin.Ready(ctx, g.store) }

// Authorized reports whether r carries the admin bearer token.
func (g *Gateway) Authorized(r *http.Request) bool { return admin.Authorized(r, g.token) }
