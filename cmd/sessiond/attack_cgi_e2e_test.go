package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// TestAttackCGIForwarding: with trusted_proxies set, a peer that is not a
// trusted proxy cannot make a CGI script see a forged client address or
// HTTPS=on, through any spelling of the forwarding headers, over plain HTTP
// (a mixed-mode site) or HTTPS; nor do the headers themselves reach the
// script. What the trusted proxy reports is believed only as far as the
// chain is trusted.
func TestAttackCGIForwarding(t *testing.T) {
	bin := buildSessiond(t)
	dir := t.TempDir()
	cgiDir := filepath.Join(dir, "cgi")
	os.Mkdir(cgiDir, 0o755)
	os.WriteFile(filepath.Join(cgiDir, "env"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nremote=%s https=%s fwd=%s|%s|%s|%s|%s\\n' "+
		"\"$REMOTE_ADDR\" \"$HTTPS\" \"$HTTP_X_FORWARDED_FOR\" \"$HTTP_X_FORWARDED_PROTO\" \"$HTTP_FORWARDED\" \"$HTTP_X_REAL_IP\" \"$HTTP_X_FORWARDED_SSL\"\n"), 0o755)
	hp, sp := testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`listen:
  http: {addr: "127.0.0.1:%d"}
  https: {addr: "127.0.0.1:%d", dev_tls: true}
trusted_proxies: [127.0.0.2]
store:
  sqlite: {path: %s}
sites:
  - hosts: [cgi.localhost]
    cgi: {dir: %s, prefix: /cgi-bin}
  - hosts: [mixed.localhost]
    cgi: {dir: %[4]s, prefix: /cgi-bin}
    session: {mode: mixed}
`, hp, sp, filepath.Join(dir, "s.db"), cgiDir)
	path := filepath.Join(dir, "sessiond.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	startProc(t, bin, "sessiond: ready", "serve", "--config", path)

	plainURL := func(host string) string { return fmt.Sprintf("http://%s:%d/cgi-bin/env", host, hp) }
	tlsURL := func(host string) string { return fmt.Sprintf("https://%s:%d/cgi-bin/env", host, sp) }
	forged := http.Header{
		"X-Forwarded-For":   {"203.0.113.9"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=203.0.113.9;proto=https"},
		"X-Real-Ip":         {"203.0.113.9"},
		"X-Forwarded-Ssl":   {"on"},
		"X_forwarded_proto": {"https"},
		"X_forwarded_for":   {"203.0.113.9"},
	}
	const clean = " fwd=||||"
	for _, tc := range []struct {
		name, peer, url string
		hdr             http.Header
		code            int
		want            string // the script's line, "" when it must not run
	}{
		{"untrusted, plain HTTP, https-only site", "127.0.0.1", plainURL("cgi.localhost"), forged, http.StatusFound, ""},
		{"untrusted, plain HTTP, mixed site", "127.0.0.1", plainURL("mixed.localhost"), forged, 200, "remote=127.0.0.1 https=" + clean},
		{"untrusted, HTTPS", "127.0.0.1", tlsURL("cgi.localhost"), forged, 200, "remote=127.0.0.1 https=on" + clean},
		{"untrusted, HTTPS, many hops", "127.0.0.1", tlsURL("cgi.localhost"),
			http.Header{"X-Forwarded-For": {"203.0.113.9, 127.0.0.2", "127.0.0.2"}}, 200, "remote=127.0.0.1 https=on" + clean},
		{"trusted proxy, http", "127.0.0.2", plainURL("mixed.localhost"),
			http.Header{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"http"}}, 200, "remote=198.51.100.7 https=" + clean},
		{"trusted proxy, forged chain", "127.0.0.2", plainURL("cgi.localhost"),
			http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7"}, "X-Forwarded-Proto": {"https"}}, 200, "remote=198.51.100.7 https=on" + clean},
		{"trusted proxy, garbage in the chain", "127.0.0.2", plainURL("cgi.localhost"),
			http.Header{"X-Forwarded-For": {"203.0.113.9, not-an-ip"}, "X-Forwarded-Proto": {"https"}}, 200, "remote=127.0.0.2 https=on" + clean},
		{"trusted proxy, Forwarded only", "127.0.0.2", plainURL("mixed.localhost"),
			http.Header{"Forwarded": {"for=203.0.113.9;proto=https"}, "X-Forwarded-Ssl": {"on"}}, 200, "remote=127.0.0.2 https=" + clean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			for k, v := range tc.hdr {
				req.Header[k] = v
			}
			resp, err := fromPeer(tc.peer).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := strings.TrimSpace(string(body))
			if resp.StatusCode != tc.code {
				t.Fatalf("%d %q, want %d", resp.StatusCode, got, tc.code)
			}
			if tc.want == "" {
				if strings.Contains(got, "remote=") {
					t.Fatalf("the script ran: %q", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("the script saw %q, want %q", got, tc.want)
			}
		})
	}
}
