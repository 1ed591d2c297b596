package acme_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/gateway/acme"
	"github.com/sessiond/sessiond/gateway/acme/acmetest"
	"github.com/sessiond/sessiond/internal/testenv"
	pgstore "github.com/sessiond/sessiond/store/postgres"
	redisstore "github.com/sessiond/sessiond/store/redis"
	"github.com/sessiond/sessiond/store/sqlite"
)

// gatewayPorts are a gateway's HTTP and HTTPS listeners, bound before the
// CA is told where to validate.
type gatewayPorts struct{ http, https net.Listener }

func listenPorts(t *testing.T) gatewayPorts {
	t.Helper()
	var g gatewayPorts
	for _, ln := range []*net.Listener{&g.http, &g.https} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		*ln = l
	}
	return g
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// serve runs m behind the listeners as the gateway does: http-01 answered
// before the site, tls-alpn-01 in the handshake.
func (g gatewayPorts) serve(t *testing.T, m *acme.Manager) {
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "site") })
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.HandleHTTPChallenge(w, r) {
			site.ServeHTTP(w, r)
		}
	})}
	ts := &http.Server{Handler: site}
	go hs.Serve(g.http)
	go ts.Serve(tls.NewListener(g.https, m.TLSConfig()))
	t.Cleanup(func() { hs.Close(); ts.Close() })
}

func newManager(t *testing.T, c acme.Config, g gatewayPorts, hosts ...string) (*acme.Manager, *testkit.Buffer) {
	t.Helper()
	log := &testkit.Buffer{}
	c.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c.HTTPAddr, c.TLSAddr = g.http.Addr().String(), g.https.Addr().String()
	m, err := acme.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Logf("manager log:\n%s", log.String())
		}
	})
	if err := m.Manage(context.Background(), hosts); err != nil {
		t.Fatal(err)
	}
	return m, log
}

// served is the certificate a handshake for host gets, verified with roots
// (nil until one verifies).
func served(addr, host string, roots *x509.CertPool) *x509.Certificate {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr,
		&tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// waitFor polls until f is true or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !f(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
	}
}

// sqliteKV is the certificate store of an SQLite session store at path.
func sqliteKV(t *testing.T, path string) acme.KV {
	st, err := sqlite.New(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kv, err := st.CertStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestObtainEachChallenge: a certificate for every host, over each
// challenge alone (the CA's other port is closed, so only that challenge
// can pass; pebble logs http-01 validations, not tls-alpn-01 ones), kept in the store; a manager started again on the same store
// (a restart) serves it at once with the CA down — nothing is ordered.
func TestObtainEachChallenge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an ACME CA")
	}
	for ch, logged := range map[string]string{acme.HTTP01: "validate w/ HTTP:", acme.TLSALPN01: "set VALID by completed challenge"} {
		t.Run(ch, func(t *testing.T) {
			g := listenPorts(t)
			o := acmetest.PebbleOptions{}
			if ch == acme.HTTP01 {
				o.HTTPPort = port(g.http)
			} else {
				o.TLSPort = port(g.https)
			}
			ca := acmetest.StartPebble(t, o)
			db := filepath.Join(t.TempDir(), "sessiond.db")
			hosts := []string{"app.example.test", "www.example.test"}
			cfg := acme.Config{CA: ca.Directory, Roots: ca.Roots, Email: "ops@example.test", Challenges: []string{ch}, KV: sqliteKV(t, db)}
			m, _ := newManager(t, cfg, g, hosts...)
			g.serve(t, m)
			roots := ca.IssuerRoots(t)
			var first *x509.Certificate
			for _, h := range hosts {
				waitFor(t, 60*time.Second, "no certificate for "+h, func() bool { first = served(g.https.Addr().String(), h, roots); return first != nil })
			}
			if !strings.Contains(ca.Log(), logged) {
				t.Errorf("pebble's log does not mention %q", logged)
			}
			if keys, err := cfg.KV.List(context.Background(), "certificates/"); err != nil || len(keys) < 2*len(hosts) {
				t.Fatalf("stored: %q, %v", keys, err)
			}

			// A restart: a new manager on the same store, the CA down.
			m.Close()
			ca.SetDown(true)
			g2 := listenPorts(t)
			cfg.KV = sqliteKV(t, db)
			m2, _ := newManager(t, cfg, g2, hosts...)
			g2.serve(t, m2)
			got := served(g2.https.Addr().String(), hosts[1], roots)
			if got == nil || !got.Equal(first) {
				t.Fatalf("after a restart: %v, want the stored certificate", got)
			}
		})
	}
}

// TestRenewalAndCADown: a short-lived certificate is renewed without a
// restart; with the CA down at renewal time the old certificate keeps
// serving, the failure is logged, and the renewal is retried until the CA
// is back.
func TestRenewalAndCADown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an ACME CA for a minute and more")
	}
	g := listenPorts(t)
	ca := acmetest.StartPebble(t, acmetest.PebbleOptions{HTTPPort: port(g.http), Validity: 3 * time.Minute})
	const host = "renew.example.test"
	// Renewal starts when 9/10 of the lifetime remain: 18 s after issuance.
	cfg := acme.Config{CA: ca.Directory, Roots: ca.Roots, Challenges: []string{acme.HTTP01}, KV: sqliteKV(t, filepath.Join(t.TempDir(), "s.db")),
		RenewCheckInterval: time.Second, RenewalWindowRatio: 0.9, DisableARI: true}
	m, log := newManager(t, cfg, g, host)
	g.serve(t, m)
	roots := ca.IssuerRoots(t)
	addr := g.https.Addr().String()
	var first, second *x509.Certificate
	waitFor(t, 60*time.Second, "no certificate", func() bool { first = served(addr, host, roots); return first != nil })
	waitFor(t, 60*time.Second, "not renewed", func() bool {
		second = served(addr, host, roots)
		return second != nil && !second.Equal(first)
	})
	if !second.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed certificate expires %v, the first %v", second.NotAfter, first.NotAfter)
	}

	ca.SetDown(true)
	waitFor(t, 60*time.Second, "no renewal failure logged", func() bool {
		return strings.Contains(log.String(), "level=ERROR") && strings.Contains(log.String(), host)
	})
	if got := served(addr, host, roots); got == nil || !got.Equal(second) {
		t.Fatalf("with the CA down the gateway serves %v, want the valid certificate it has", got)
	}
	ca.SetDown(false)
	waitFor(t, 100*time.Second, "not renewed once the CA was back", func() bool {
		got := served(addr, host, roots)
		return got != nil && !got.Equal(second)
	})
}

// TestSharedStoreOrdersOnce: two gateways on one Redis, or one
// PostgreSQL, started together, obtain one certificate between them (one
// orders under the lock, the other loads it), and either answers the CA's
// challenge.
func TestSharedStoreOrdersOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an ACME CA")
	}
	ctx := context.Background()
	stores := map[string]func(t *testing.T) func() acme.KV{
		"redis": func(t *testing.T) func() acme.KV {
			url := testenv.RedisURL(t)
			prefix := fmt.Sprintf("sessiond-test:acme-%d:", time.Now().UnixNano())
			return func() acme.KV {
				st, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				kv, err := st.CertStore(ctx)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cleanKV(kv) })
				return kv
			}
		},
		"postgres": func(t *testing.T) func() acme.KV {
			url := testenv.PostgresURL(t)
			schema := fmt.Sprintf("acmetest_%d", time.Now().UnixNano())
			t.Cleanup(func() {
				if c, err := pgx.Connect(ctx, url); err == nil {
					c.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
					c.Close(ctx)
				}
			})
			return func() acme.KV {
				st, err := pgstore.New(ctx, pgstore.Config{URL: url, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				kv, err := st.CertStore(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return kv
			}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			newKV := open(t)
			g := [2]gatewayPorts{listenPorts(t), listenPorts(t)}
			// The CA validates on the first gateway's port: the second's
			// orders can pass only through the tokens the two share.
			ca := acmetest.StartPebble(t, acmetest.PebbleOptions{HTTPPort: port(g[0].http)})
			const host = "shared.example.test"
			kvs := [2]acme.KV{newKV(), newKV()}
			var ms [2]*acme.Manager
			var wg sync.WaitGroup
			for i := range ms {
				wg.Go(func() {
					ms[i], _ = newManager(t, acme.Config{CA: ca.Directory, Roots: ca.Roots, Challenges: []string{acme.HTTP01}, KV: kvs[i]}, g[i], host)
				})
			}
			wg.Wait()
			for i := range ms {
				g[i].serve(t, ms[i])
			}
			roots := ca.IssuerRoots(t)
			var c [2]*x509.Certificate
			for i := range g {
				waitFor(t, 60*time.Second, fmt.Sprintf("gateway %d has no certificate", i), func() bool {
					c[i] = served(g[i].https.Addr().String(), host, roots)
					return c[i] != nil
				})
			}
			if !c[0].Equal(c[1]) {
				t.Errorf("the two gateways serve different certificates (serials %v, %v): both ordered", c[0].SerialNumber, c[1].SerialNumber)
			}
			if n := strings.Count(ca.Log(), "Issued certificate serial"); n != 1 {
				t.Errorf("the CA issued %d certificates, want 1", n)
			}
		})
	}
}

func cleanKV(kv acme.KV) {
	keys, _ := kv.List(context.Background(), "")
	for _, k := range keys {
		kv.Delete(context.Background(), k)
	}
}

// TestRefusedHost: a host the CA refuses is a clear error in the log,
// retried later; the manager keeps running and the other hosts get their
// certificates.
func TestRefusedHost(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an ACME CA")
	}
	g := listenPorts(t)
	ca := acmetest.StartPebble(t, acmetest.PebbleOptions{HTTPPort: port(g.http), Blocked: []string{"refused.example.test"}})
	cfg := acme.Config{CA: ca.Directory, Roots: ca.Roots, Challenges: []string{acme.HTTP01}, KV: sqliteKV(t, filepath.Join(t.TempDir(), "s.db"))}
	m, log := newManager(t, cfg, g, "refused.example.test", "fine.example.test")
	g.serve(t, m)
	roots := ca.IssuerRoots(t)
	waitFor(t, 60*time.Second, "no certificate for the other host", func() bool {
		return served(g.https.Addr().String(), "fine.example.test", roots) != nil
	})
	waitFor(t, 30*time.Second, "the refusal is not logged", func() bool {
		return strings.Contains(log.String(), "refused.example.test") && strings.Contains(log.String(), "rejectedIdentifier")
	})
	if served(g.https.Addr().String(), "refused.example.test", roots) != nil {
		t.Fatal("a certificate for the refused host")
	}
	// One attempt so far, the next one a minute away: no tight loop.
	var retries []string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, `msg="will retry"`) && strings.Contains(l, "refused.example.test") {
			retries = append(retries, l)
		}
	}
	if len(retries) != 1 || !strings.Contains(retries[0], "retrying_in=1m0s") {
		t.Errorf("want one failed attempt, retried in a minute; got %q", retries)
	}
}
