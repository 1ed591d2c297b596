package main

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// oauth2-proxy v7.15.6, the session-keeping proxy in Go most often put
// in front of an application, installed by run.sh with
//
//	go install github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6
//
// and configured with its htpasswd sign-in form (no OAuth provider is
// ever contacted), in front of the same backend, with each of its
// session stores.

// oauth2ProxyStores are its session stores, each a target of its own.
var oauth2ProxyStores = []string{"cookie", "redis"}

// oauth2Cookie is the name of its session cookie (a prefix: a large
// session is split into _oauth2_proxy_0, _1, …).
const oauth2Cookie = "_oauth2_proxy"

// oauth2ProxyBin finds the binary: -oauth2-proxy, else on PATH, else in
// $(go env GOPATH)/bin, where run.sh's go install puts it ("" if none).
func oauth2ProxyBin(flagged string) string {
	if flagged != "" {
		if _, err := exec.LookPath(flagged); err != nil {
			log.Printf("-oauth2-proxy: %v", err)
			return ""
		}
		return flagged
	}
	if p, err := exec.LookPath("oauth2-proxy"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for d := range strings.SplitSeq(strings.TrimSpace(string(out)), string(os.PathListSeparator)) {
			if p := filepath.Join(d, "bin", "oauth2-proxy"); exec.Command(p, "--version").Run() == nil {
				return p
			}
		}
	}
	return ""
}

// oauth2ProxyTargets starts one oauth2-proxy per store wanted and signs
// in through its htpasswd form to obtain a session cookie. The targets:
// the read-only request with that cookie (plain HTTP, and TLS at the
// proxy), and the cookie store's answer to a request without a cookie
// (its sign-in page, 403: it lets no anonymous request through).
func oauth2ProxyTargets(bin, dir, upstream, cert, key string, wantAny func(string) bool) []*target {
	var ts []*target
	noted := false
	for _, store := range oauth2ProxyStores {
		name := "oauth2-proxy-" + store
		if !wantAny(name) {
			continue
		}
		if bin == "" {
			log.Printf("oauth2-proxy not found (run.sh installs it with go install): %s skipped", name)
			continue
		}
		if !noted {
			oauth2ProxyVersion(bin)
			noted = true
		}
		redisURL := ""
		if store == "redis" {
			// A redis-server of its own, as sessiond-redis has.
			redisURL = startRedis(dir, name+"-redis", freeAddr())
		}
		// Its command-line flags give one server, plain HTTP or TLS: the
		// TLS target is a second process (same store), signed in over TLS.
		httpAddr := freeAddr()
		p := startOAuth2Proxy(bin, dir, name, httpAddr, "", "", upstream, redisURL)
		base := "http://" + httpAddr
		hdr := []string{"Cookie: " + oauth2SignIn(name, base)}
		ts = append(ts, &target{name: name, group: "read", url: base + "/page", headers: hdr, pid: p.pid, ref: "proxy",
			check: probe(base+"/page", "", hdr, false, pageBody)})
		if wantAny(name + "/tls") {
			httpsAddr := freeAddr()
			pt := startOAuth2Proxy(bin, dir, name+"-tls", httpsAddr, cert, key, upstream, redisURL)
			tbase := "https://" + httpsAddr
			thdr := []string{"Cookie: " + oauth2SignIn(name+"-tls", tbase)}
			ts = append(ts, &target{name: name + "/tls", group: "https", url: tbase + "/page", headers: thdr, pid: pt.pid, ref: "proxy/tls",
				check: probe(tbase+"/page", "", thdr, false, pageBody)})
		}
		if store == "cookie" {
			ts = append(ts, &target{name: name + "/nocookie", group: "nocookie", url: base + "/page", pid: p.pid, ref: "proxy",
				status: 403, check: probeStatus(base+"/page", nil, 403, `name="password"`)})
		}
	}
	return ts
}

// startOAuth2Proxy writes an htpasswd file (user "bench", a SHA1 entry,
// which oauth2-proxy accepts beside bcrypt) and starts oauth2-proxy on
// it, listening on addr (TLS if cert is set): sign-in form only, sessions
// for 168 h (its default) and never refreshed (its default), no request,
// auth or standard log lines.
func startOAuth2Proxy(bin, dir, name, addr, cert, key, upstream, redisURL string) *proc {
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o700)
	sum := sha1.Sum([]byte(oauth2Password))
	htpasswd := filepath.Join(d, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("bench:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		fatalf("%v", err)
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	args := []string{
		"--upstream=" + upstream + "/",
		"--htpasswd-file=" + htpasswd,
		"--email-domain=*",
		// A provider must be configured; the htpasswd form never uses it.
		"--client-id=bench",
		"--client-secret=bench",
		"--cookie-secret=" + hex.EncodeToString(secret), // 32 bytes
		"--cookie-secure=false",                         // signed in over plain HTTP
		"--session-store-type=" + strings.TrimSuffix(strings.TrimPrefix(name, "oauth2-proxy-"), "-tls"),
		"--request-logging=false",
		"--auth-logging=false",
		"--standard-logging=false",
	}
	if redisURL != "" {
		args = append(args, "--redis-connection-url="+redisURL)
	}
	if cert != "" {
		// With a certificate its flags serve HTTPS only, on this address.
		args = append(args, "--https-address="+addr, "--tls-cert-file="+cert, "--tls-key-file="+key)
	} else {
		args = append(args, "--http-address="+addr)
	}
	return startProc(name, dir, "", addr, nil, bin, args...)
}

// oauth2Password is the htpasswd user's password (a throwaway of the run).
const oauth2Password = "bench-password"

// oauth2SignIn posts the htpasswd form and returns the Cookie header's
// value it was given (every _oauth2_proxy* cookie).
func oauth2SignIn(name, base string) string {
	form := url.Values{"username": {"bench"}, "password": {oauth2Password}, "rd": {"/page"}}
	resp, err := client.PostForm(base+"/oauth2/sign_in", form)
	if err != nil {
		fatalf("%s: sign-in: %v", name, err)
	}
	resp.Body.Close()
	var cs []string
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, oauth2Cookie) && c.Value != "" {
			cs = append(cs, c.Name+"="+c.Value)
		}
	}
	if resp.StatusCode != 302 || len(cs) == 0 {
		fatalf("%s: sign-in: status %d, Set-Cookie %q", name, resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	return strings.Join(cs, "; ")
}

// oauth2ProxyVersion records the module version the binary was built
// from (a go-installed binary's --version says "undefined").
func oauth2ProxyVersion(bin string) {
	out, _ := exec.Command("go", "version", "-m", bin).Output()
	for l := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" {
			versions = append(versions, "oauth2-proxy "+f[2])
			return
		}
	}
	versions = append(versions, "oauth2-proxy (version unknown)")
}

// probeStatus checks a target answers status with a body containing want.
func probeStatus(url string, headers []string, status int, want string) func() error {
	return func() error {
		resp, body, err := get(url, "", headers)
		if err != nil {
			return err
		}
		if resp.StatusCode != status {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, status)
		}
		if !strings.Contains(body, want) {
			return fmt.Errorf("body lacks %q", want)
		}
		return nil
	}
}
