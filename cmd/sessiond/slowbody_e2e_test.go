package main_test

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// received is what the backend got of one request body.
type received struct {
	n   int
	sum [sha256.Size]byte
	err error // nil: the body arrived whole
}

// TestSlowBodyMinRate: with timeouts.request_body 1s and
// request_body_min_rate 1 MiB/s, clients sending below the minimum rate
// (a byte every 100 ms; 256 KiB/s) get 408 soon after 1s, their
// connection is closed and the backend's request ends without the whole
// body; an 8 MiB upload at about 4 MB/s takes twice request_body and
// reaches the backend whole (a plain deadline of 1s would have cut it).
func TestSlowBodyMinRate(t *testing.T) {
	bin := buildSessiond(t)
	got := make(chan received, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		var rec received
		rec.n, rec.err = int(n), err
		copy(rec.sum[:], h.Sum(nil))
		got <- rec
		io.WriteString(w, "stored")
	}))
	t.Cleanup(be.Close)
	s := serve(t, bin, "    upstream: "+be.URL+"\n    timeouts: {request_body: 1s, request_body_min_rate: 1048576, upstream_header: 10s}")
	u, _ := url.Parse(s.httpsURL)

	tests := []struct {
		name  string
		chunk int           // bytes sent every interval
		every time.Duration // interval
		size  int           // Content-Length
		cut   bool
	}{
		{"a byte every 100ms is cut", 1, 100 * time.Millisecond, 1000, true},
		{"256 KiB/s is below the minimum rate", 64 << 10, 250 * time.Millisecond, 8 << 20, true},
		{"8 MiB at 4 MB/s passes", 200_000, 50 * time.Millisecond, 8 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := make([]byte, tt.size)
			rand.NewChaCha8([32]byte{7}).Read(body)
			conn, err := tls.Dial("tcp", "127.0.0.1:"+u.Port(), &tls.Config{InsecureSkipVerify: true, ServerName: "app.localhost"}) // loopback, dev cert
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			start := time.Now()
			fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
				u.Host, s.httpsURL, tt.size)
			type answer struct {
				resp *http.Response
				took time.Duration
			}
			answered := make(chan answer, 1)
			br := bufio.NewReader(conn)
			go func() {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Errorf("no response: %v", err)
					answered <- answer{}
					return
				}
				resp.Body.Close()
				answered <- answer{resp, time.Since(start)}
			}()
			tick := time.NewTicker(tt.every)
			defer tick.Stop()
			var a answer
			for sent, done := 0, false; !done; {
				select {
				case a = <-answered:
					done = true
				case <-tick.C:
					if sent == tt.size {
						continue
					}
					n := min(tt.chunk, tt.size-sent)
					if _, err := conn.Write(body[sent : sent+n]); err != nil {
						a, done = <-answered, true
					}
					sent += n
				}
			}
			if a.resp == nil {
				return
			}
			rec := backendGot(t, got)
			if !tt.cut {
				if a.resp.StatusCode != http.StatusOK || rec.err != nil || rec.n != tt.size || rec.sum != sha256.Sum256(body) {
					t.Fatalf("upload: %s after %v; backend read %d of %d bytes (%v), whole: %v",
						a.resp.Status, a.took, rec.n, tt.size, rec.err, rec.sum == sha256.Sum256(body))
				}
				if a.took < 1500*time.Millisecond {
					t.Fatalf("upload took %v: too fast to need the minimum rate's extension", a.took)
				}
				t.Logf("%d bytes in %v", tt.size, a.took)
				return
			}
			if a.resp.StatusCode != http.StatusRequestTimeout || a.took < time.Second || a.took > 5*time.Second {
				t.Errorf("slow body: %s after %v; want 408 soon after 1s", a.resp.Status, a.took)
			}
			if rec.err == nil || rec.n >= tt.size {
				t.Errorf("backend read %d of %d bytes, err %v: want the request aborted", rec.n, tt.size, rec.err)
			}
			// The gateway closes the connection: the client reads EOF (or
			// a reset), not a wait for its deadline.
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, err = io.Copy(io.Discard, br)
			if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("connection still open after the 408")
			}
			t.Logf("cut after %v, %d bytes at the backend", a.took, rec.n)
		})
	}
	// A quick form post still goes through.
	w := web{t, client()}
	if resp, b := w.do("POST", s.httpsURL+"/upload", url.Values{"a": {"b"}}); resp.StatusCode != http.StatusOK || b != "stored" {
		t.Errorf("normal POST = %d %q", resp.StatusCode, b)
	}
	<-got
}

// backendGot waits for the backend's account of one body.
func backendGot(t *testing.T, got <-chan received) received {
	t.Helper()
	select {
	case rec := <-got:
		return rec
	case <-time.After(10 * time.Second):
		t.Fatal("the backend never saw the request end")
		return received{}
	}
}
