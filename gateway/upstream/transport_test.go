package upstream

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// misframer is a raw-socket backend: every request gets a response whose
// body names the request's path; the request path /bad gets a response
// that frames less than it sends, and the bytes beyond the frame are a
// complete response of their own ("stale"), which a desynchronised
// connection would hand to the next request.
func misframer(t *testing.T, bad func(w io.Writer, req *http.Request)) string {
	return misframerTLS(t, nil, bad)
}

// misframerTLS is misframer behind TLS when cfg is set.
func misframerTLS(t *testing.T, cfg *tls.Config, bad func(w io.Writer, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if cfg != nil {
		ln, scheme = tls.NewListener(ln, cfg), "https"
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if req.URL.Path == "/bad" {
						bad(c, req)
						continue
					}
					body := "for " + req.URL.Path
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
					if req.Method != http.MethodHead {
						io.WriteString(c, body)
					}
				}
			}()
		}
	}()
	return scheme + "://" + ln.Addr().String()
}

const stale = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"

// TestNoResponseReachesAnotherRequest sends a mis-framing request among
// many well-formed ones, from several goroutines at once: every
// well-formed request gets its own response, never the stale bytes.
func TestNoResponseReachesAnotherRequest(t *testing.T) {
	cases := []struct {
		name   string
		method string // of the bad request
		bad    func(w io.Writer, req *http.Request)
	}{
		{"body on HEAD", http.MethodHead, func(w io.Writer, _ *http.Request) {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 43\r\n\r\n"+stale)
		}},
		{"body on 204", http.MethodGet, func(w io.Writer, _ *http.Request) {
			io.WriteString(w, "HTTP/1.1 204 No Content\r\n\r\n"+stale)
		}},
		{"body on 304", http.MethodGet, func(w io.Writer, _ *http.Request) {
			io.WriteString(w, "HTTP/1.1 304 Not Modified\r\n\r\n"+stale)
		}},
		{"Content-Length short", http.MethodGet, func(w io.Writer, _ *http.Request) {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"+stale)
		}},
		{"bytes after chunked end", http.MethodGet, func(w io.Writer, _ *http.Request) {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"+stale)
		}},
		{"body on HEAD, POST beside", http.MethodHead, func(w io.Writer, _ *http.Request) {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 43\r\n\r\n"+stale)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := misframer(t, tc.bad)
			tr := New(Config{})
			defer tr.CloseIdleConnections()
			const workers, rounds = 8, 40
			var wg sync.WaitGroup
			errs := make(chan string, workers*rounds)
			for w := range workers {
				wg.Go(func() {
					for i := range rounds {
						if w == 0 && i%2 == 0 {
							req, _ := http.NewRequest(tc.method, base+"/bad", nil)
							if resp, err := tr.RoundTrip(req); err == nil {
								io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
							}
							continue
						}
						method, body := http.MethodGet, io.Reader(nil)
						if strings.Contains(tc.name, "POST") && i%3 == 0 {
							method, body = http.MethodPost, strings.NewReader("x=1")
						}
						path := fmt.Sprintf("/u%d/r%d", w, i)
						req, _ := http.NewRequest(method, base+path, body)
						resp, err := tr.RoundTrip(req)
						if err != nil {
							if method == http.MethodPost && err == ErrDesync {
								continue // refused, not misdelivered
							}
							errs <- fmt.Sprintf("%s %s: %v", method, path, err)
							continue
						}
						got, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(got) != "for "+path {
							errs <- fmt.Sprintf("%s %s got %q", method, path, got)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			var bad []string
			for e := range errs {
				bad = append(bad, e)
			}
			if len(bad) > 0 {
				t.Fatalf("%d of %d requests were not answered with their own response, e.g.:\n%s",
					len(bad), workers*rounds, strings.Join(bad[:min(len(bad), 5)], "\n"))
			}
		})
	}
}

// TestSequentialAfterMisframe: the request right after a mis-framed one,
// on the same (only) connection, gets its own response.
func TestSequentialAfterMisframe(t *testing.T) {
	base := misframer(t, func(w io.Writer, _ *http.Request) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 43\r\n\r\n"+stale)
	})
	tr := New(Config{})
	defer tr.CloseIdleConnections()
	headThenGet(t, tr, base, true)
}

// headThenGet sends mis-framed HEADs, each followed by a GET that must
// get its own response; with pause, some GETs wait until the connection
// went idle.
func headThenGet(t *testing.T, tr *Transport, base string, pause bool) {
	t.Helper()
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodHead, base+"/bad", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("the mis-framed HEAD itself failed: %v", err)
		}
		resp.Body.Close()
		if pause && i%2 == 1 {
			time.Sleep(5 * time.Millisecond)
		}
		path := fmt.Sprintf("/next%d", i)
		req, _ = http.NewRequest(http.MethodGet, base+path, nil)
		resp, err = tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "for "+path {
			t.Fatalf("GET %s after a mis-framed HEAD got %q", path, got)
		}
	}
}

// Test1xxStormEnds: a backend that sends 1xx responses without end gets
// ErrTooMany1xx, not a connection held forever.
func Test1xxStormEnds(t *testing.T) {
	base := misframer(t, func(w io.Writer, _ *http.Request) {
		for range 1000 {
			if _, err := io.WriteString(w, "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"); err != nil {
				return
			}
		}
	})
	tr := New(Config{})
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, base+"/bad", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != ErrTooMany1xx {
			t.Fatalf("1xx storm: err %v, want ErrTooMany1xx", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a 1xx storm held the request for 10 s")
	}
}

// TestMisframeOverTLS: the same guarantee to an HTTPS upstream (HTTP/1.1
// inside TLS).
func TestMisframeOverTLS(t *testing.T) {
	certs := httptest.NewTLSServer(http.NotFoundHandler())
	certs.Close()
	cfg := certs.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	base := misframerTLS(t, cfg, func(w io.Writer, _ *http.Request) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 43\r\n\r\n"+stale)
	})
	tr := New(Config{})
	tr.base.TLSClientConfig = certs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	defer tr.CloseIdleConnections()
	headThenGet(t, tr, base, false)
}
