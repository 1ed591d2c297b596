package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// validateACME checks listen.https.acme against the rest of the file: the
// listeners its challenges are answered on, and the hosts it orders
// certificates for.
func validateACME(c *Config, p *problems) {
	const ap = "listen.https.acme"
	a := c.Listen.HTTPS.ACME
	if a.Email != "" && (!strings.Contains(a.Email, "@") || strings.ContainsAny(a.Email, " \t\r\n<>,;")) {
		p.errf(ap+".email", "%s is not an email address", quote(a.Email))
	}
	if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		p.errf(ap+".ca", "%s is not an https:// ACME directory URL", quote(a.CA))
	}
	if len(a.Challenges) == 0 {
		p.errf(ap+".challenges", "name at least one of %s", strings.Join(ACMEChallenges, ", "))
	}
	for i, ch := range a.Challenges {
		cp := fmt.Sprintf("%s.challenges[%d]", ap, i)
		switch {
		case !slices.Contains(ACMEChallenges, ch):
			p.errf(cp, "%s is not one of %s", quote(ch), strings.Join(ACMEChallenges, ", "))
		case slices.Index(a.Challenges, ch) < i:
			p.errf(cp, "%s is listed twice", quote(ch))
		}
	}
	if slices.Contains(a.Challenges, "http-01") && c.Listen.HTTP.Addr == "" {
		p.errf(ap+".challenges", "http-01 is answered on the plain-HTTP listener, which is off: set listen.http.addr (the CA connects to port 80), or leave http-01 out")
	}
	for _, l := range []struct {
		challenge, key, addr, port string
		proxyProtocol              bool
	}{
		{"http-01", "listen.http", c.Listen.HTTP.Addr, "80", c.Listen.HTTP.ProxyProtocol},
		{"tls-alpn-01", "listen.https", c.Listen.HTTPS.Addr, "443", c.Listen.HTTPS.ProxyProtocol},
	} {
		if !slices.Contains(a.Challenges, l.challenge) || l.addr == "" {
			continue
		}
		if loopback(l.addr) {
			p.warnf(l.key+".addr", "the CA validates %s challenges on port %s of every host, and %s is loopback: listen on :%s, or have that port forwarded here", l.challenge, l.port, l.addr, l.port)
		}
		if l.proxyProtocol {
			// The CA's own connection carries no PROXY header: it passes
			// only through a trusted load balancer that adds one.
			p.warnf(l.key+".proxy_protocol", "the CA's %s validation connects without a PROXY header and is refused here unless it comes through the load balancer (in trusted_proxies, the hosts' DNS pointing at it), which adds one; otherwise no certificate is obtained: leave %s out of acme.challenges", l.challenge, l.challenge)
		}
	}
	if a.CA == DefaultACMECA {
		for i, s := range c.Sites {
			for j, h := range s.Hosts {
				if !publicName(h) {
					p.errf(fmt.Sprintf("sites[%d].hosts[%d]", i, j), "Let's Encrypt (listen.https.acme) issues certificates for public DNS names only, not %s; set acme.ca to a private CA, or use cert_file", quote(h))
				}
			}
		}
	}
	if c.Store.Memory != nil {
		p.warnf(ap, "store.memory keeps certificates in memory: every restart orders them again, and CAs limit how often")
	}
}

// publicName reports whether a public CA could issue for host: a DNS name
// under a public top-level domain, not an IP address or a name reserved
// for local use.
func publicName(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil || !strings.Contains(host, ".") {
		return false
	}
	for _, local := range []string{".localhost", ".local", ".internal", ".home.arpa", ".test", ".example", ".invalid", ".lan"} {
		if strings.HasSuffix(host, local) {
			return false
		}
	}
	return true
}
