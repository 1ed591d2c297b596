package main_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// misframeBackend is a raw-socket backend: it reads each
// request with http.ReadRequest and writes exactly the bytes under test.
// Every response it frames carries, in the header X-Echo and as the first
// line of its body, the request it answers: its path and the user and
// session Ref the gateway said it came from. A path
//
//	/evil/<mode>/<attacker>/<n>
//
// answers in the mis-framed way <mode> names; the extra bytes it sends are
// a whole response of the attacker's ("smuggled": it signs in whoever
// receives it as the attacker). /login/<user>/<n> is a backend login
// callback (X-Session-Action: login user=<user>); any other path is a
// plain page.
type misframeBackend struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newMisframeBackend(t *testing.T) *misframeBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &misframeBackend{ln: ln, conns: map[net.Conn]bool{}}
	go b.accept()
	t.Cleanup(func() {
		ln.Close()
		b.dropConns()
	})
	return b
}

func (b *misframeBackend) url() string { return "http://" + b.ln.Addr().String() }

func (b *misframeBackend) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[c] = true
		b.mu.Unlock()
		go b.serveConn(c)
	}
}

// dropConns closes every open connection: the next mode starts on fresh
// ones, whatever the last one left behind.
func (b *misframeBackend) dropConns() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.Close()
		delete(b.conns, c)
	}
}

func (b *misframeBackend) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		mode := evilMode(req)
		if mode != "early-response" && mode != "body-as-request" {
			io.Copy(io.Discard, req.Body)
		}
		out, keep := answerMisframed(req, mode)
		if _, err := c.Write(out); err != nil || !keep {
			return
		}
		if mode == "early-response" {
			io.Copy(io.Discard, req.Body) // read only after the answer
		}
	}
}

// echoOf names the request a response was built for.
func echoOf(req *http.Request) string {
	return fmt.Sprintf("path=%s user=%s ref=%s", req.URL.RequestURI(), req.Header.Get("X-Session-User"), req.Header.Get("X-Session-Ref"))
}

// framedResponse is a correctly framed 200 for req (no body bytes on HEAD);
// extra header lines (each ending in CRLF) are added.
func framedResponse(req *http.Request, extra string) string {
	body := echoOf(req) + "\n"
	s := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: " + echoOf(req) + "\r\n" + extra +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	if req.Method != http.MethodHead {
		s += body
	}
	return s
}

// smuggledResponse is the attacker's page, hidden in the bytes a
// mis-framed response sends beyond its frame.
func smuggledResponse(attacker string) string {
	body := "path=/smuggled user=" + attacker + " ref=\nthe attacker's page\n"
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: path=/smuggled user=" + attacker + " ref=\r\n" +
		"X-Session-Action: login user=" + attacker + "\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// evilMode is the mis-framing a request asks for ("" for none).
func evilMode(req *http.Request) string {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "evil" {
		return ""
	}
	return parts[1]
}

// answerMisframed builds the bytes answering req in the given mode and
// whether the connection is kept for the next request.
func answerMisframed(req *http.Request, mode string) ([]byte, bool) {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if len(parts) >= 3 && parts[0] == "login" {
		return []byte(framedResponse(req, "X-Session-Action: login user="+parts[1]+"\r\n")), true
	}
	if mode == "" {
		return []byte(framedResponse(req, "")), true
	}
	smuggled := smuggledResponse(parts[2])
	echo := echoOf(req)
	body := echo + "\n"
	switch mode {
	case "head-body": // Python's do_HEAD = do_GET
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: " + echo + "\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(smuggled)) + smuggled), true
	case "204-body":
		return []byte("HTTP/1.1 204 No Content\r\nX-Echo: " + echo + "\r\n\r\n" + smuggled), true
	case "304-body":
		return []byte("HTTP/1.1 304 Not Modified\r\nX-Echo: " + echo + "\r\n\r\n" + smuggled), true
	case "short-length":
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: " + echo + "\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body + smuggled), true
	case "chunked-extra":
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: " + echo + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body) + smuggled), true
	case "early-response":
		// Answered before the request body (256 KiB) is read; the body is
		// read after it.
		return []byte(framedResponse(req, "")), true
	case "body-as-request":
		// Answered without reading the request body at all: the body (the
		// attacker's, a whole request) is read as the next request.
		return []byte(framedResponse(req, "")), true
	case "close-ignored":
		// "Connection: close", yet the connection stays open and answers on.
		return []byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nX-Echo: " + echo + "\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body + smuggled), true
	case "http10-no-length":
		// Close-delimited: the body is everything until the close.
		return []byte("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nX-Echo: " + echo + "\r\n\r\n" + body + smuggled), false
	case "1xx-storm":
		var s strings.Builder
		for i := range 40 {
			if i%2 == 0 {
				s.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n")
			} else {
				s.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			}
		}
		s.WriteString(framedResponse(req, ""))
		return []byte(s.String()), true
	default: // "none": a well-framed answer (the control)
		return []byte(framedResponse(req, "")), true
	}
}

// misframeModes are the mis-framed answers, each with the method the
// attacker sends to provoke it.
var misframeModes = []struct{ name, method string }{
	{"none", http.MethodGet},
	{"head-body", http.MethodHead},
	{"204-body", http.MethodGet},
	{"304-body", http.MethodGet},
	{"short-length", http.MethodGet},
	{"chunked-extra", http.MethodGet},
	{"early-response", http.MethodPost},
	{"body-as-request", http.MethodPost},
	{"close-ignored", http.MethodGet},
	{"http10-no-length", http.MethodGet},
	{"1xx-storm", http.MethodGet},
}

// mfUser is one browser, signed in (by the backend's login callback) as
// name on host.
type mfUser struct {
	name, host string
	attacker   bool
	w          web
	ref        string // the session's Ref once signed in
	n          int    // requests sent (makes every path unique)
}

// mfResult is what came back for one request.
type mfResult struct {
	status int
	echo   string // X-Echo: whose request the backend built it for
	body   string
	err    error
}

// send sends one request from u without failing the test (it may run in
// any goroutine).
func (u *mfUser) send(g gateway, method, path string, body string) mfResult {
	var rd io.Reader
	if method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	var res mfResult
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, g.url(u.host, path), rd)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "https://"+req.URL.Host)
	}
	resp, err := u.w.c.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	res.status, res.echo, res.body, res.err = resp.StatusCode, resp.Header.Get("X-Echo"), string(b), err
	return res
}

// refused: res answers nothing (an error page of the gateway's own, or
// no response at all), which a mis-framing backend may cause.
func (res mfResult) refused() bool { return res.echo == "" && (res.err != nil || res.status >= 500) }

// leak says how res fails to be the answer to u's request for path ("" if
// it is that answer, or refused).
func (u *mfUser) leak(path string, res mfResult) string {
	if res.refused() {
		return ""
	}
	want := fmt.Sprintf("path=%s user=%s ref=%s", path, u.name, u.ref)
	if res.echo != want {
		return fmt.Sprintf("%d with X-Echo %q, want %q", res.status, res.echo, want)
	}
	if first, _, _ := strings.Cut(res.body, "\n"); res.err == nil && res.body != "" && first != want {
		return fmt.Sprintf("%d with a body built for %q", res.status, first)
	}
	return ""
}

// misframeRun plays one mode on a gateway: victims and an attacker per
// site, sequential then concurrent, and collects every leak.
type misframeRun struct {
	t     *testing.T
	g     gateway
	be    *misframeBackend
	mode  string
	meth  string
	mu    sync.Mutex
	leaks []string
	fails int // requests refused or broken off (allowed)
}

func (r *misframeRun) note(u *mfUser, method, path string, res mfResult) {
	l := u.leak(path, res)
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.refused() {
		r.fails++
	}
	if l != "" {
		r.leaks = append(r.leaks, fmt.Sprintf("%s %s %s: %s", u.name, method, path, l))
	}
}

// step sends u's next request of the given kind and checks the answer.
func (r *misframeRun) step(u *mfUser, kind string) {
	u.n++
	method, path, body := kind, fmt.Sprintf("/page/%s/%d", u.name, u.n), "x=1"
	switch kind {
	case "evil":
		method, path = r.meth, fmt.Sprintf("/evil/%s/%s/%d", r.mode, u.name, u.n)
		switch r.mode {
		case "early-response":
			body = strings.Repeat("x", 256<<10)
		case "body-as-request":
			body = "GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Session-User: " + u.name + "\r\n\r\n"
		}
	case "login":
		method, path = http.MethodGet, fmt.Sprintf("/login/%s/%d", u.name, u.n)
	}
	r.note(u, method, path, u.send(r.g, method, path, body))
}

// signIn signs u in through the backend's login callback and learns its
// session's Ref, before any attack.
func (r *misframeRun) signIn(u *mfUser) {
	r.t.Helper()
	res := u.send(r.g, http.MethodGet, "/login/"+u.name+"/0", "")
	if res.err != nil || res.status != http.StatusOK {
		r.t.Fatalf("%s's backend login: %d %v", u.name, res.status, res.err)
	}
	res = u.send(r.g, http.MethodGet, "/who", "")
	_, ref, _ := strings.Cut(res.echo, " ref=")
	if res.echo != "path=/who user="+u.name+" ref="+ref || ref == "" {
		r.t.Fatalf("%s after the backend login: X-Echo %q", u.name, res.echo)
	}
	u.ref = ref
}

// TestAttackMisframingBackend, against the built binary
// on each store with two sites on one gateway: a backend that frames its
// answers wrongly — a body on HEAD, on 204 and 304, a Content-Length
// shorter than the body, bytes after a chunked body's last chunk, an
// answer before the request body is read (then the body read after it,
// or never: read as the next request), "Connection: close" ignored, an
// HTTP/1.0 body without length, a storm of 1xx — while attackers and
// victims interleave GET, HEAD and POST, one after another and at once.
// Every response a user gets must be the one built for their own request
// and session; after the attack each session still belongs to its own
// user (the backend's view and the admin API). The attacker's own request
// may fail (502); nothing may leak.
func TestAttackMisframingBackend(t *testing.T) {
	bin := buildSessiond(t)
	for _, st := range gatewayStores {
		t.Run(st.name, func(t *testing.T) {
			be := newMisframeBackend(t)
			g := startGatewayConfig(t, bin, st, "", fmt.Sprintf(`
  - name: a
    hosts: [a.localhost]
    upstream: %[1]s
    timeouts: {upstream_header: 5s}
  - name: b
    hosts: [b.localhost]
    upstream: %[1]s
    timeouts: {upstream_header: 5s}
`, be.url()))
			for _, m := range misframeModes {
				t.Run(m.name, func(t *testing.T) {
					be.dropConns()
					r := &misframeRun{t: t, g: g, be: be, mode: m.name, meth: m.method}
					testMisframing(t, r, st)
				})
			}
		})
	}
}

func testMisframing(t *testing.T, r *misframeRun, st storeCase) {
	run := strings.ToLower(rand.Text()[:6]) // the store may keep other runs' users
	var users []*mfUser
	for _, site := range []string{"a", "b"} {
		for _, role := range []string{"mallory", "alice", "bob"} {
			users = append(users, &mfUser{name: role + "-" + r.mode + "-" + site + "-" + run, host: site + ".localhost",
				attacker: role == "mallory", w: web{t, client()}})
		}
	}
	for _, u := range users {
		r.signIn(u)
	}

	// One after another: each attack is followed by the victims' requests
	// on the same (most recently used) upstream connection.
	for range 3 {
		for site := 0; site < 2; site++ {
			mallory, alice, bob := users[3*site], users[3*site+1], users[3*site+2]
			r.step(mallory, "evil")
			r.step(alice, http.MethodGet)
			r.step(bob, "login") // bob's backend login, as in the issue
			r.step(mallory, http.MethodGet)
			r.step(alice, http.MethodHead)
			r.step(mallory, "evil")
			r.step(bob, http.MethodPost)
			r.step(alice, http.MethodPost)
			r.step(mallory, http.MethodGet)
			r.step(bob, http.MethodGet)
		}
	}

	// At once: every browser on its own goroutine.
	var wg sync.WaitGroup
	for _, u := range users {
		kinds := []string{http.MethodGet, http.MethodHead, http.MethodPost, "login", http.MethodGet, http.MethodHead}
		if u.attacker {
			kinds = []string{"evil", http.MethodGet, "evil", http.MethodHead, "evil", http.MethodPost}
		}
		wg.Go(func() {
			for range 3 {
				for _, k := range kinds {
					r.step(u, k)
				}
			}
		})
	}
	wg.Wait()

	// Afterwards, on fresh upstream connections: every session is still
	// its own user's, and no user holds another's session.
	r.be.dropConns()
	for _, u := range users {
		var res mfResult
		var path string
		for try := 0; try < 3; try++ { // pooled connections the backend closed may fail once each
			u.n++
			path = fmt.Sprintf("/page/%s/%d", u.name, u.n)
			if res = u.send(r.g, http.MethodGet, path, ""); res.err == nil && res.status == http.StatusOK {
				break
			}
		}
		if l := u.leak(path, res); l != "" || res.status != http.StatusOK {
			r.leaks = append(r.leaks, fmt.Sprintf("after the attack, %s's session: %s (status %d, err %v)", u.name, l, res.status, res.err))
		}
		if st.name == "cookie" {
			continue // the cookie store cannot list sessions
		}
		realm, _, _ := strings.Cut(u.host, ".")
		code, out := r.g.adminDo(t, "GET", "/api/realms/"+realm+"/users/"+u.name+"/sessions")
		list, _ := out["sessions"].([]any)
		var refs []string
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				ref, _ := m["ref"].(string)
				refs = append(refs, ref)
			}
		}
		if code != http.StatusOK || len(refs) != 1 || refs[0] != u.ref {
			r.leaks = append(r.leaks, fmt.Sprintf("after the attack the admin API lists %s's sessions as %q (%d), want only %q", u.name, refs, code, u.ref))
		}
	}
	t.Logf("%s: %d requests refused or broken off (allowed)", r.mode, r.fails)
	for i, l := range r.leaks {
		if i == 5 {
			t.Errorf("… and %d more", len(r.leaks)-i)
			break
		}
		t.Errorf("leak: %s", l)
	}
}
