package acmetest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"

	"github.com/sessiond/sessiond/internal/devtls"
	"github.com/sessiond/sessiond/internal/testenv"
)

// Pebble is Let's Encrypt's test CA (github.com/letsencrypt/pebble, this
// module's tool dependency) running on loopback for one test, validating
// challenges for real: every name resolves to 127.0.0.1 (a DNS server of
// the test's own), and the CA connects to the gateway's ports.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// RootFile is a PEM file of the root the CA's HTTPS server is
	// verified with (listen.https.acme.ca_root).
	RootFile string
	// Roots holds the same root.
	Roots *x509.CertPool
	// Log is what Pebble printed so far.
	Log func() string

	mgmt  string
	down  atomic.Bool
	mu    sync.Mutex
	conns map[net.Conn]bool // open connections through the proxy
}

// PebbleOptions configures StartPebble.
type PebbleOptions struct {
	// HTTPPort and TLSPort are where the CA validates http-01 and
	// tls-alpn-01 challenges: the gateway's listeners. 0: a closed port,
	// so that the challenge fails.
	HTTPPort, TLSPort int
	// Validity is the issued certificates' lifetime. Default 90 days.
	Validity time.Duration
	// Blocked are names the CA refuses to issue for.
	Blocked []string
}

var pebbleBin struct {
	once sync.Once
	path string
	err  error
}

// StartPebble starts Pebble; it stops when t ends. Without the go tool
// (or under a missing PATH) the test is skipped, or fails under CI.
func StartPebble(t testing.TB, o PebbleOptions) *Pebble {
	t.Helper()
	pebbleBin.once.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "pebble").Output()
		pebbleBin.path, pebbleBin.err = strings.TrimSpace(string(out)), err
	})
	if pebbleBin.err != nil {
		testenv.Unavailable(t, "building pebble (go tool -n pebble): %v", pebbleBin.err)
	}
	if o.Validity == 0 {
		o.Validity = 90 * 24 * time.Hour
	}
	for _, port := range []*int{&o.HTTPPort, &o.TLSPort} {
		if *port == 0 {
			*port = testenv.FreePort(t) // nothing listens there
		}
	}
	dir := t.TempDir()
	cert, err := devtls.Generate(devtls.Options{Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pebble{RootFile: certPath, Roots: x509.NewCertPool()}
	p.Roots.AddCert(cert.Leaf)

	dns := startDNS(t) // first: its port is then taken when the others are chosen
	listen, front := testenv.FreePort(t), testenv.FreePort(t)
	p.mgmt = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress": p.mgmt,
		"certificate":             certPath,
		"privateKey":              keyPath,
		"httpPort":                o.HTTPPort,
		"tlsPort":                 o.TLSPort,
		"ocspResponderURL":        "",
		"domainBlocklist":         append([]string{"blocked.invalid"}, o.Blocked...),
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{"default": map[string]any{
			"description": "test", "validityPeriod": int(o.Validity.Seconds())}},
	}}
	data, _ := json.Marshal(conf)
	confPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pebbleBin.path, "-config", confPath, "-dnsserver", dns)
	cmd.Env = append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",      // validate at once
		"PEBBLE_VA_ALWAYS_VALID=0", // really validate the challenges
		"PEBBLE_WFE_NONCEREJECT=0", // no random bad-nonce rejections
		"PEBBLE_AUTHZREUSE=0",      // every order validates anew
		"PEBBLE_CHAIN_LENGTH=2")    // root and leaf
	var log testkit.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble's log:\n%s", log.String())
		}
	})
	p.Log = log.String
	p.proxy(t, front, listen)
	p.Directory = fmt.Sprintf("https://localhost:%d/dir", front)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Roots}}, Timeout: 2 * time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := hc.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready: %v\n%s", err, log.String())
		}
	}
	return p
}

// SetDown makes the CA unreachable (open connections to the directory's
// address are cut, new ones closed at once), or reachable again.
func (p *Pebble) SetDown(down bool) {
	p.down.Store(down)
	if down {
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	}
}

// IssuerRoots returns the roots of the certificates the CA issues.
func (p *Pebble) IssuerRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Roots}}, Timeout: 5 * time.Second}
	resp, err := hc.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	for rest := body; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(c)
	}
	return pool
}

// proxy forwards the directory's address to Pebble, unless SetDown.
func (p *Pebble) proxy(t testing.TB, from, to int) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", from))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.conns == nil {
				p.conns = map[net.Conn]bool{}
			}
			p.conns[c] = true
			p.mu.Unlock()
			go func() {
				defer func() {
					c.Close()
					p.mu.Lock()
					delete(p.conns, c)
					p.mu.Unlock()
				}()
				u, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", to))
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.Close() }()
				io.Copy(c, u)
			}()
		}
	}()
}

// dnsPorts listens on one port number for UDP and TCP. The UDP port is
// free when chosen, but another test's TCP socket may hold the same
// number: then it tries another.
func dnsPorts(t testing.TB) (net.PacketConn, net.Listener) {
	var last error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
		last = err
	}
	t.Fatalf("dns: no port free for both UDP and TCP: %v", last)
	return nil, nil
}

// startDNS answers every A query with 127.0.0.1 and every other query
// with no record, over UDP and TCP on one port of its own; it returns the
// address.
func startDNS(t testing.TB) string {
	pc, ln := dnsPorts(t)
	t.Cleanup(func() { pc.Close() })
	t.Cleanup(func() { ln.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := dnsAnswer(buf[:n]); out != nil {
				pc.WriteTo(out, addr)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					var l [2]byte
					if _, err := io.ReadFull(c, l[:]); err != nil {
						return
					}
					q := make([]byte, int(l[0])<<8|int(l[1]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					out := dnsAnswer(q)
					if out == nil {
						return
					}
					c.Write(append([]byte{byte(len(out) >> 8), byte(len(out))}, out...))
				}
			}()
		}
	}()
	return pc.LocalAddr().String()
}

// dnsAnswer answers one query (RFC 1035 section 4): 127.0.0.1 for A, no
// record otherwise; nil for what is not a query of one question.
func dnsAnswer(query []byte) []byte {
	if len(query) < 12 || query[2]&0x80 != 0 || binary.BigEndian.Uint16(query[4:]) != 1 {
		return nil
	}
	end := 12
	for end < len(query) && query[end] != 0 { // the name's labels
		end += 1 + int(query[end])
	}
	end += 5 // the root label, type and class
	if end > len(query) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(query[end-4:])
	out := append([]byte(nil), query[:end]...)
	out[2] = 0x84 | query[2]&0x01 // response, authoritative, recursion desired as asked
	out[3] = 0                    // no error
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	binary.BigEndian.PutUint16(out[6:], 0)
	if qtype == 1 { // A
		binary.BigEndian.PutUint16(out[6:], 1)
		out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 0, 0, 1) // the name at 12, IN A, TTL 1
	}
	return out
}
