package session_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memory"
)

const shopHost = "shop.test" // not localhost: the jar applies Secure-cookie rules

type mixedHarness struct {
	t         *testing.T
	store     *countingStore
	m         *session.Manager
	httpURL   string
	httpsURL  string
	audit     *testkit.Auditor
	mu        sync.Mutex
	httpSetCk []string // every Set-Cookie line of every plain-HTTP response
}

func shopApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart/add", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("cart", s.Get("cart")+r.URL.Query().Get("product")+",")
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).Get("cart"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Login(r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		s.Set("secure.card", "4111111111111111")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).User())
	})
	mux.HandleFunc("GET /card", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).Get("secure.card"))
	})
	return mux
}

func newMixedHarness(t *testing.T, cfg session.Config) *mixedHarness {
	t.Helper()
	mem := memory.New(memory.Config{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	h := &mixedHarness{t: t, store: &countingStore{Store: mem}, audit: &testkit.Auditor{}}
	cfg.Store, cfg.Mode, cfg.Auditor = h.store, session.Mixed, h.audit
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	handler := m.Handler(shopApp())
	plain := httptest.NewServer(handler)
	tlsSrv := httptest.NewTLSServer(handler)
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)
	h.httpURL = "http://" + shopHost + ":" + port(plain.URL)
	h.httpsURL = "https://" + shopHost + ":" + port(tlsSrv.URL)
	return h
}

func port(u string) string {
	p, _ := url.Parse(u)
	return p.Port()
}

// browser is a client whose dialer maps shop.test to 127.0.0.1 and which
// records what plain-HTTP responses set.
func (h *mixedHarness) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+p)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // loopback test server
	}
	return &http.Client{Jar: jar, Transport: recordTransport{tr, h}}
}

type recordTransport struct {
	rt http.RoundTripper
	h  *mixedHarness
}

func (rt recordTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := rt.rt.RoundTrip(r)
	if err == nil && r.URL.Scheme == "http" {
		rt.h.mu.Lock()
		rt.h.httpSetCk = append(rt.h.httpSetCk, resp.Header.Values("Set-Cookie")...)
		rt.h.mu.Unlock()
	}
	return resp, err
}

func (h *mixedHarness) do(c *http.Client, method, u string, hdr http.Header) string {
	h.t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (h *mixedHarness) cookie(c *http.Client, name string) string {
	u, _ := url.Parse(h.httpsURL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func TestMixedCartSurvivesCheckout(t *testing.T) {
	h := newMixedHarness(t, session.Config{})
	b := h.browser()
	h.do(b, "POST", h.httpURL+"/cart/add?product=1", nil)
	h.do(b, "POST", h.httpURL+"/cart/add?product=2", nil)
	insecure1 := h.cookie(b, "sid")
	if got := h.do(b, "GET", h.httpsURL+"/cart", nil); got != "1,2," {
		t.Fatalf("cart over HTTPS after step up = %q, want 1,2,", got)
	}
	insecure2 := h.cookie(b, "sid")
	if insecure2 == insecure1 || h.cookie(b, "__Host-ssid") == "" {
		t.Fatal("step up did not issue the secure ID and a new insecure ID")
	}
	h.do(b, "POST", h.httpsURL+"/login?u=alice", nil)
	if got := h.do(b, "GET", h.httpsURL+"/whoami", nil); got != "alice" {
		t.Fatalf("user over HTTPS = %q", got)
	}
	// Step down: back to HTTP, the cart is there, the user and card are not.
	before := h.cookie(b, "sid")
	if got := h.do(b, "GET", h.httpURL+"/cart", nil); got != "1,2," {
		t.Fatalf("cart over HTTP after checkout = %q", got)
	}
	if h.cookie(b, "sid") == before {
		t.Fatal("step down did not regenerate the insecure ID")
	}
	if got := h.do(b, "GET", h.httpURL+"/whoami", nil); got != "" {
		t.Fatalf("user visible over HTTP: %q", got)
	}
	if got := h.do(b, "GET", h.httpURL+"/card", nil); got != "" {
		t.Fatalf("secure partition visible over HTTP: %q", got)
	}
	// And back up: everything is still there.
	if got := h.do(b, "GET", h.httpsURL+"/card", nil); got != "4111111111111111" {
		t.Fatalf("secure partition lost after switching: %q", got)
	}
	if h.store.Len() != 1 {
		t.Fatalf("%d records after the whole flow, want 1", h.store.Len())
	}
}

func TestMixedManySwitchesOneRecord(t *testing.T) {
	h := newMixedHarness(t, session.Config{})
	b := h.browser()
	h.do(b, "POST", h.httpURL+"/cart/add?product=5", nil)
	seen := map[string]bool{h.cookie(b, "sid"): true}
	for i := range 20 {
		base := h.httpURL
		if i%2 == 0 {
			base = h.httpsURL
		}
		if got := h.do(b, "GET", base+"/cart", nil); got != "5," {
			t.Fatalf("switch %d: cart %q", i, got)
		}
		id := h.cookie(b, "sid")
		if seen[id] {
			t.Fatalf("switch %d: insecure ID reused", i)
		}
		seen[id] = true
	}
	if h.store.Len() != 1 {
		t.Fatalf("%d records after 20 switches, want 1", h.store.Len())
	}
}

func TestMixedSecureIDNeverOverHTTP(t *testing.T) {
	h := newMixedHarness(t, session.Config{})
	b := h.browser()
	h.do(b, "POST", h.httpURL+"/cart/add?product=1", nil)
	h.do(b, "POST", h.httpsURL+"/login?u=alice", nil)
	secureID := h.cookie(b, "__Host-ssid")
	for range 3 {
		h.do(b, "GET", h.httpURL+"/cart", nil)
		h.do(b, "GET", h.httpsURL+"/cart", nil)
	}
	// Even a client that sends the secure cookie over HTTP gets nothing from it.
	raw := &http.Client{Transport: b.Transport}
	if got := h.do(raw, "GET", h.httpURL+"/whoami", http.Header{"Cookie": {"__Host-ssid=" + secureID}}); got != "" {
		t.Fatalf("secure ID over HTTP was used: %q", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, line := range h.httpSetCk {
		if strings.Contains(line, "ssid") || strings.Contains(line, secureID) || strings.Contains(line, "Secure") {
			t.Fatalf("an HTTP response carried a secure cookie: %q", line)
		}
	}
	if len(h.httpSetCk) == 0 {
		t.Fatal("no HTTP Set-Cookie observed at all; the test saw nothing")
	}
}

func TestMixedSniffedInsecureID(t *testing.T) {
	h := newMixedHarness(t, session.Config{})
	victim := h.browser()
	h.do(victim, "POST", h.httpURL+"/cart/add?product=3", nil)
	h.do(victim, "POST", h.httpsURL+"/login?u=victim", nil)
	h.do(victim, "GET", h.httpURL+"/cart", nil) // step down: new insecure ID, sniffed on the wire
	sniffed := h.cookie(victim, "sid")

	thief := &http.Client{Transport: victim.Transport}
	ck := http.Header{"Cookie": {"sid=" + sniffed}}
	if got := h.do(thief, "GET", h.httpURL+"/cart", ck); got != "3," {
		t.Fatalf("sniffed ID over HTTP: cart %q (it may see the cart)", got)
	}
	if got := h.do(thief, "GET", h.httpURL+"/whoami", ck); got != "" {
		t.Fatalf("sniffed ID over HTTP sees the user %q", got)
	}
	// Over HTTPS the thief gets a fork: a copy of the cart, not the account.
	jar, _ := cookiejar.New(nil)
	thiefTLS := &http.Client{Transport: victim.Transport, Jar: jar}
	u, _ := url.Parse(h.httpsURL)
	jar.SetCookies(u, []*http.Cookie{{Name: "sid", Value: sniffed}})
	if got := h.do(thiefTLS, "GET", h.httpsURL+"/whoami", nil); got != "" {
		t.Fatalf("sniffed insecure ID over HTTPS sees the user %q", got)
	}
	if got := h.do(thiefTLS, "GET", h.httpsURL+"/card", nil); got != "" {
		t.Fatalf("sniffed insecure ID over HTTPS sees the secure partition %q", got)
	}
	if got := h.do(thiefTLS, "GET", h.httpsURL+"/cart", nil); got != "3," {
		t.Fatalf("fork did not copy the cart: %q", got)
	}
	if h.audit.Count("session.fork") == 0 {
		t.Fatal("fork not audited")
	}
	// The victim is untouched.
	if got := h.do(victim, "GET", h.httpsURL+"/whoami", nil); got != "victim" {
		t.Fatalf("victim after the fork: %q", got)
	}
	if got := h.do(victim, "GET", h.httpsURL+"/card", nil); got != "4111111111111111" {
		t.Fatalf("victim's secure data after the fork: %q", got)
	}
}

func TestMixedLoginOverHTTPRefused(t *testing.T) {
	h := newMixedHarness(t, session.Config{})
	b := h.browser()
	req, _ := http.NewRequest("POST", h.httpURL+"/login?u=alice", nil)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login over HTTP = %d, want 403", resp.StatusCode)
	}
	if h.store.Len() != 0 {
		t.Fatal("a login over HTTP stored something")
	}
}

func TestMixedAllowHTTPAuth(t *testing.T) {
	h := newMixedHarness(t, session.Config{AllowHTTPAuth: true})
	b := h.browser()
	h.do(b, "POST", h.httpsURL+"/login?u=alice", nil)
	if got := h.do(b, "GET", h.httpURL+"/whoami", nil); got != "alice" {
		t.Fatalf("with AllowHTTPAuth the user over HTTP = %q", got)
	}
	if got := h.do(b, "GET", h.httpURL+"/card", nil); got != "" {
		t.Fatal("AllowHTTPAuth must still hide the secure. partition")
	}
}

func TestMixedStaySecure(t *testing.T) {
	var h *mixedHarness
	h = newMixedHarness(t, session.Config{StaySecure: true, HTTPSURL: func(r *http.Request) string {
		return h.httpsURL + r.URL.RequestURI()
	}})
	b := h.browser()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.do(b, "POST", h.httpURL+"/cart/add?product=1", nil)
	h.do(b, "GET", h.httpsURL+"/cart", nil) // step up
	req, _ := http.NewRequest("GET", h.httpURL+"/cart", nil)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != h.httpsURL+"/cart" {
		t.Fatalf("stay secure: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Attack: a passive sniffer replays an old insecure ID after its
// grace window. It is refused and audited, but must not sign the user out
// everywhere. An obsolete secure ID after grace keeps the theft action.
func TestMixedObsoleteInsecureIDNeverRevokesUser(t *testing.T) {
	clk := testkit.NewClock(time.Now())
	h := newMixedHarness(t, session.Config{Now: clk.Now, RotateEvery: time.Minute, Grace: time.Second})
	victim, laptop := h.browser(), h.browser()
	h.do(victim, "POST", h.httpURL+"/cart/add?product=3", nil)
	h.do(victim, "POST", h.httpsURL+"/login?u=victim", nil)
	h.do(laptop, "POST", h.httpsURL+"/login?u=victim", nil)
	h.do(victim, "GET", h.httpURL+"/cart", nil) // step down: this insecure ID travels in clear
	sniffed := h.cookie(victim, "sid")
	h.do(victim, "GET", h.httpsURL+"/whoami", nil) // back on HTTPS: the insecure ID is regenerated
	if h.cookie(victim, "sid") == sniffed {
		t.Fatal("setup: the insecure ID was not regenerated on the way back to HTTPS")
	}
	clk.Advance(5 * time.Second) // past the grace window, within RotateEvery's minute
	thief := &http.Client{Transport: victim.Transport}
	if got := h.do(thief, "GET", h.httpURL+"/cart", http.Header{"Cookie": {"sid=" + sniffed}}); got != "" {
		t.Fatalf("obsolete insecure ID after grace still sees the cart %q", got)
	}
	ev, ok := h.audit.Last("session.obsolete_id")
	if !ok || attr(ev, "action") != "refused" || attr(ev, "secure_id") != "false" {
		t.Fatalf("obsolete insecure ID not audited as refused: %+v", ev)
	}
	for name, c := range map[string]*http.Client{"victim": victim, "laptop": laptop} {
		if got := h.do(c, "GET", h.httpsURL+"/whoami", nil); got != "victim" {
			t.Fatalf("a replayed insecure ID signed the %s session out (%q)", name, got)
		}
	}

	// An obsolete secure ID after grace is theft: the user is revoked.
	oldSecure := h.cookie(victim, "__Host-ssid")
	clk.Advance(2 * time.Minute)
	h.do(victim, "GET", h.httpsURL+"/whoami", nil) // periodic rotation of the secure ID
	if h.cookie(victim, "__Host-ssid") == oldSecure {
		t.Fatal("setup: the secure ID was not rotated")
	}
	clk.Advance(5 * time.Second)
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(h.httpsURL)
	jar.SetCookies(u, []*http.Cookie{{Name: "__Host-ssid", Value: oldSecure}})
	h.do(&http.Client{Transport: victim.Transport, Jar: jar}, "GET", h.httpsURL+"/whoami", nil)
	if ev, _ := h.audit.Last("session.obsolete_id"); attr(ev, "action") != "revoke-user" {
		t.Fatalf("obsolete secure ID: action %q, want revoke-user", attr(ev, "action"))
	}
	if got := h.do(laptop, "GET", h.httpsURL+"/whoami", nil); got != "" {
		t.Fatal("an obsolete secure ID after grace did not revoke the user's sessions")
	}
}
