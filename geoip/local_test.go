package geoip_test

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/geoip"
)

// TestLocalNetworks: a database that names internal networks (the demo's
// "this machine") is consulted for loopback and private addresses only
// with LocalNetworks, where a city name alone is the area; without it
// those addresses stay unlocated, and public ones still need a country.
func TestLocalNetworks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.mmdb")
	err := writeDB(path, cityOptions, []entry{
		{"127.0.0.0/8", cityRecord("", map[string]string{"en": "this machine"})},
		{"10.0.0.0/8", cityRecord("", map[string]string{"en": "office"})},
		{"192.0.2.0/24", cityRecord("", map[string]string{"en": "Atlantis"})},
		{"198.51.100.0/24", cityRecord("DE", map[string]string{"en": "Berlin"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, local := range []bool{false, true} {
		l, err := geoip.Open(geoip.Config{Path: path, LocalNetworks: local})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for ip, want := range map[string]string{
			"127.0.0.1":        "this machine",
			"::ffff:127.0.0.1": "this machine",
			"10.9.8.7":         "office",
			"192.0.2.1":        "", // public, no country: unknown as before
			"198.51.100.1":     "DE, Berlin",
		} {
			if !local && want != "DE, Berlin" {
				want = ""
			}
			if got := l.Locate(netip.MustParseAddr(ip)); got != want {
				t.Errorf("LocalNetworks=%t: Locate(%s) = %q, want %q", local, ip, got, want)
			}
		}
	}
}
