package devtls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		opts      Options
		wantDNS   []string
		wantIPs   []string
		wantUntil time.Time
	}{
		{
			name:      "defaults",
			opts:      Options{Now: func() time.Time { return now }},
			wantDNS:   []string{"localhost", "*.localhost"},
			wantIPs:   []string{"127.0.0.1", "::1"},
			wantUntil: now.Add(30 * 24 * time.Hour),
		},
		{
			name:      "custom names and lifetime",
			opts:      Options{Hosts: []string{"Example.TEST", "10.0.0.1"}, ValidFor: time.Hour, Now: func() time.Time { return now }},
			wantDNS:   []string{"example.test"},
			wantIPs:   []string{"10.0.0.1"},
			wantUntil: now.Add(time.Hour),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Generate(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			leaf := c.Leaf
			if got := strings.Join(leaf.DNSNames, ","); got != strings.Join(tc.wantDNS, ",") {
				t.Errorf("DNSNames = %s, want %s", got, strings.Join(tc.wantDNS, ","))
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if got := strings.Join(ips, ","); got != strings.Join(tc.wantIPs, ",") {
				t.Errorf("IPAddresses = %s, want %s", got, strings.Join(tc.wantIPs, ","))
			}
			if !leaf.NotAfter.Equal(tc.wantUntil) {
				t.Errorf("NotAfter = %v, want %v", leaf.NotAfter, tc.wantUntil)
			}
			pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("key is %T, want ECDSA P-256", leaf.PublicKey)
			}
			if leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("ExtKeyUsage = %v, want server auth", leaf.ExtKeyUsage)
			}
		})
	}
}

func TestGenerateRejects(t *testing.T) {
	cases := []struct {
		name string
		opts Options
	}{
		{"bad host", Options{Hosts: []string{"bad host"}}},
		{"empty label", Options{Hosts: []string{"a..b"}}},
		{"leading dash", Options{Hosts: []string{"-a.test"}}},
		{"bare wildcard", Options{Hosts: []string{"*."}}},
		{"negative lifetime", Options{ValidFor: -time.Hour}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Generate(tc.opts); err == nil {
				t.Fatal("Generate accepted it")
			}
		})
	}
}

// TestClientTrustsPEM serves HTTPS with the certificate and connects as a
// client that trusts only CertPEM, for each covered name.
func TestClientTrustsPEM(t *testing.T) {
	c, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{c.TLS}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CertPEM) {
		t.Fatal("CertPEM does not parse")
	}
	cases := []struct {
		name    string
		host    string
		wantErr bool
	}{
		{"localhost", "localhost", false},
		{"wildcard", "shop.localhost", false},
		{"ipv4", "127.0.0.1", false},
		{"other name", "example.com", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: tc.host},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
				},
			}}
			resp, err := client.Get("https://" + net.JoinHostPort(tc.host, port) + "/")
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("connected to a name the certificate does not cover")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		})
	}
}

// TestOpenSSLTrustsPEM checks that OpenSSL-based clients (curl) can use the
// PEM as a trust anchor too. It skips if openssl is not installed.
func TestOpenSSLTrustsPEM(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	c, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, _, err := c.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "verify", "-CAfile", certPath, "-purpose", "sslserver", certPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

func TestWriteFilesPermissions(t *testing.T) {
	c, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	certPath, keyPath, err := c.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		path string
		mode os.FileMode
	}{
		{"dir", dir, 0o700 | os.ModeDir},
		{"key", keyPath, 0o600},
		{"cert", certPath, 0o644},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tc.mode {
				t.Fatalf("mode = %v, want %v", fi.Mode(), tc.mode)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("dir holds %d entries, want 2 (no temporary files left)", len(entries))
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Leaf.Equal(c.Leaf) {
		t.Fatal("Load returned another certificate")
	}
}

func TestLoadOrCreate(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		later       time.Duration
		hosts       []string
		damage      bool
		wantCreated bool
	}{
		{"reuse", 24 * time.Hour, nil, false, false},
		{"renew near expiry", 29*24*time.Hour + time.Hour, nil, false, true},
		{"new names", 0, []string{"localhost", "api.test"}, false, true},
		{"damaged key", 0, nil, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, created, err := LoadOrCreate(dir, Options{Now: func() time.Time { return start }})
			if err != nil || !created {
				t.Fatalf("first LoadOrCreate: created=%v err=%v", created, err)
			}
			if tc.damage {
				os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600)
			}
			second, created, err := LoadOrCreate(dir, Options{Hosts: tc.hosts, Now: func() time.Time { return start.Add(tc.later) }})
			if err != nil {
				t.Fatal(err)
			}
			if created != tc.wantCreated {
				t.Fatalf("created = %v, want %v", created, tc.wantCreated)
			}
			if same := second.Leaf.Equal(first.Leaf); same == tc.wantCreated {
				t.Fatalf("same certificate = %v, want %v", same, !tc.wantCreated)
			}
		})
	}
}
