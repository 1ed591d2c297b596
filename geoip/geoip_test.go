package geoip_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/sessiond/sessiond/geoip"
)

// entry is one network of a test database and its record.
type entry struct {
	network string
	record  mmdbtype.DataType
}

// writeDB writes a MaxMind DB built from entries to path.
func writeDB(path string, opts mmdbwriter.Options, entries []entry) error {
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		return err
	}
	for _, e := range entries {
		_, n, err := net.ParseCIDR(e.network)
		if err != nil {
			return err
		}
		if err := tree.Insert(n, e.record); err != nil {
			return fmt.Errorf("insert %s: %w", e.network, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cityRecord is a GeoLite2-City style record; names may be nil (no city).
func cityRecord(iso string, names map[string]string) mmdbtype.Map {
	rec := mmdbtype.Map{}
	if iso != "" {
		rec["country"] = mmdbtype.Map{
			"iso_code": mmdbtype.String(iso),
			"names":    mmdbtype.Map{"en": mmdbtype.String("Country " + iso)},
		}
	}
	if names != nil {
		m := mmdbtype.Map{}
		for lang, name := range names {
			m[mmdbtype.String(lang)] = mmdbtype.String(name)
		}
		rec["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": m}
	}
	return rec
}

// cityOptions build a City database that accepts the documentation
// networks. IPv4 aliasing is off, so an IPv4-mapped address is found only
// if Locate unmaps it.
var cityOptions = mmdbwriter.Options{
	DatabaseType:            "GeoLite2-City",
	Languages:               []string{"de", "en", "ja"},
	IncludeReservedNetworks: true,
	DisableIPv4Aliasing:     true,
}

var cityEntries = []entry{
	{"192.0.2.0/24", cityRecord("DE", map[string]string{"en": "Berlin", "de": "Berlin", "ja": "ベルリン"})},
	{"203.0.113.0/25", cityRecord("DE", map[string]string{"en": "Munich", "de": "München"})},
	{"203.0.113.128/25", cityRecord("", map[string]string{"en": "Atlantis"})},
	{"198.51.100.0/24", cityRecord("FR", nil)},
	{"2001:db8::/32", cityRecord("JP", map[string]string{"en": "Tokyo", "ja": "東京"})},
	{"2001:db8:1::/48", cityRecord("JP", map[string]string{"ja": "大阪"})},
	// Present in the file, but never reported: not public addresses.
	{"10.0.0.0/8", cityRecord("US", map[string]string{"en": "Springfield"})},
	{"127.0.0.0/8", cityRecord("US", map[string]string{"en": "Springfield"})},
	{"fc00::/7", cityRecord("US", map[string]string{"en": "Springfield"})},
	{"fe80::/10", cityRecord("US", map[string]string{"en": "Springfield"})},
}

// cityDB writes the test City database and returns its path.
func cityDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	if err := writeDB(path, cityOptions, cityEntries); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t *testing.T, cfg geoip.Config) *geoip.Locator {
	t.Helper()
	l, err := geoip.Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func TestLocate(t *testing.T) {
	path := cityDB(t)
	locators := map[string]*geoip.Locator{
		"":   open(t, geoip.Config{Path: path}), // default: English
		"en": open(t, geoip.Config{Path: path, Language: "en"}),
		"de": open(t, geoip.Config{Path: path, Language: "de"}),
		"ja": open(t, geoip.Config{Path: path, Language: "ja"}),
	}
	tests := []struct {
		name string
		lang string
		ip   netip.Addr
		want string
	}{
		{"city", "en", netip.MustParseAddr("192.0.2.1"), "DE, Berlin"},
		{"default language is English", "", netip.MustParseAddr("203.0.113.9"), "DE, Munich"},
		{"city in German", "de", netip.MustParseAddr("203.0.113.9"), "DE, München"},
		{"city in Japanese", "ja", netip.MustParseAddr("192.0.2.200"), "DE, ベルリン"},
		{"no Japanese name falls back to English", "ja", netip.MustParseAddr("203.0.113.9"), "DE, Munich"},
		{"country without city", "en", netip.MustParseAddr("198.51.100.7"), "FR"},
		{"no name in language or English", "de", netip.MustParseAddr("2001:db8:1::5"), "JP"},
		{"only name is in the language", "ja", netip.MustParseAddr("2001:db8:1::5"), "JP, 大阪"},
		{"city without country", "en", netip.MustParseAddr("203.0.113.200"), ""},
		{"IPv6", "en", netip.MustParseAddr("2001:db8::1"), "JP, Tokyo"},
		{"IPv6 in Japanese", "ja", netip.MustParseAddr("2001:db8:ffff::1"), "JP, 東京"},
		{"IPv6 with zone", "en", netip.MustParseAddr("2001:db8::1%eth0"), "JP, Tokyo"},
		{"IPv4-mapped IPv6", "en", netip.MustParseAddr("::ffff:192.0.2.1"), "DE, Berlin"},
		{"IPv4-mapped IPv6 without city", "en", netip.MustParseAddr("::ffff:198.51.100.7"), "FR"},
		{"unknown IPv4", "en", netip.MustParseAddr("8.8.8.8"), ""},
		{"unknown IPv6", "en", netip.MustParseAddr("2606:4700::1111"), ""},
		{"invalid", "en", netip.Addr{}, ""},
		{"unspecified", "en", netip.IPv4Unspecified(), ""},
		{"IPv6 unspecified", "en", netip.IPv6Unspecified(), ""},
		{"private, though in the file", "en", netip.MustParseAddr("10.1.2.3"), ""},
		{"loopback, though in the file", "en", netip.MustParseAddr("127.0.0.1"), ""},
		{"mapped loopback", "en", netip.MustParseAddr("::ffff:127.0.0.1"), ""},
		{"IPv6 loopback", "en", netip.IPv6Loopback(), ""},
		{"unique local, though in the file", "en", netip.MustParseAddr("fd00::1"), ""},
		{"link-local, though in the file", "en", netip.MustParseAddr("fe80::1%eth0"), ""},
		{"multicast", "en", netip.MustParseAddr("224.0.0.1"), ""},
		{"broadcast", "en", netip.MustParseAddr("255.255.255.255"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := locators[tt.lang].Locate(tt.ip); got != tt.want {
				t.Errorf("Locate(%v) with language %q = %q, want %q", tt.ip, tt.lang, got, tt.want)
			}
		})
	}
}

func TestLocateDatabaseShapes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		opts    mmdbwriter.Options
		lookups map[string]string
	}{
		{
			name: "Country database",
			opts: mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true},
			lookups: map[string]string{
				"192.0.2.1":        "DE",
				"::ffff:192.0.2.1": "DE",
				"2001:db8::1":      "JP",
				"198.51.100.1":     "FR",
			},
		},
		{
			name: "IPv4-only database",
			opts: mmdbwriter.Options{DatabaseType: "GeoIP2-City", IPVersion: 4, IncludeReservedNetworks: true},
			lookups: map[string]string{
				"192.0.2.1":        "DE, Berlin",
				"::ffff:192.0.2.1": "DE, Berlin",
				"2001:db8::1":      "", // the reader refuses IPv6 here: no panic, no area
			},
		},
		{
			name: "IPv6 database with IPv4 aliasing",
			opts: mmdbwriter.Options{DatabaseType: "DBIP-City-Lite", IncludeReservedNetworks: true},
			lookups: map[string]string{
				"192.0.2.1":        "DE, Berlin",
				"::ffff:192.0.2.1": "DE, Berlin",
				"2001:db8::1":      "JP, Tokyo",
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var entries []entry
			for _, e := range []entry{
				{"192.0.2.0/24", cityRecord("DE", map[string]string{"en": "Berlin"})},
				{"198.51.100.0/24", cityRecord("FR", nil)},
				{"2001:db8::/32", cityRecord("JP", map[string]string{"en": "Tokyo"})},
			} {
				if tt.opts.DatabaseType == "GeoLite2-Country" {
					e.record = mmdbtype.Map{"country": e.record.(mmdbtype.Map)["country"]}
				}
				if tt.opts.IPVersion == 4 && strings.Contains(e.network, ":") {
					continue
				}
				entries = append(entries, e)
			}
			path := filepath.Join(dir, fmt.Sprintf("db%d.mmdb", i))
			if err := writeDB(path, tt.opts, entries); err != nil {
				t.Fatal(err)
			}
			l := open(t, geoip.Config{Path: path})
			for ip, want := range tt.lookups {
				if got := l.Locate(netip.MustParseAddr(ip)); got != want {
					t.Errorf("Locate(%s) = %q, want %q", ip, got, want)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	db := func(name string, opts mmdbwriter.Options, record mmdbtype.DataType) string {
		p := filepath.Join(dir, name)
		opts.IncludeReservedNetworks = true
		if err := writeDB(p, opts, []entry{{"192.0.2.0/24", record}}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A City database truncated after its metadata marker is gone.
	whole, err := os.ReadFile(cityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantIs  error    // nil: only the message is checked
		wantMsg []string // substrings besides the path
	}{
		{"missing", filepath.Join(dir, "nope.mmdb"), fs.ErrNotExist, []string{"no such file"}},
		{"directory", dir, geoip.ErrNotMMDB, []string{"directory"}},
		{"empty", file("empty.mmdb", ""), geoip.ErrNotMMDB, nil},
		{"text", file("GeoLite2-City.mmdb.txt", "this is not a database\n"), geoip.ErrNotMMDB, nil},
		{"truncated", file("truncated.mmdb", string(whole[:len(whole)/2])), geoip.ErrNotMMDB, nil},
		{"ASN database", db("asn.mmdb", mmdbwriter.Options{DatabaseType: "GeoLite2-ASN"},
			mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64496)}),
			geoip.ErrLayout, []string{`"GeoLite2-ASN"`}},
		{"City name, other layout", db("flat.mmdb", mmdbwriter.Options{DatabaseType: "Acme-City"},
			mmdbtype.Map{"country": mmdbtype.String("DE"), "city": mmdbtype.String("Berlin")}),
			geoip.ErrLayout, []string{`"Acme-City"`, "192.0.2.0/24"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := geoip.Open(geoip.Config{Path: tt.path})
			if err == nil {
				l.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tt.path)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open error %q is not %v", err, tt.wantIs)
			}
			for _, s := range append([]string{tt.path}, tt.wantMsg...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open error %q does not mention %q", err, s)
				}
			}
		})
	}
	t.Run("empty path", func(t *testing.T) {
		if _, err := geoip.Open(geoip.Config{}); err == nil || !strings.Contains(err.Error(), "Path") {
			t.Errorf("Open(Config{}) = %v, want an error naming Config.Path", err)
		}
	})
}

func TestOpenReadsWholeFile(t *testing.T) {
	// The database is read into memory: removing (or rewriting) the file
	// does not affect an open Locator.
	path := cityDB(t)
	l := open(t, geoip.Config{Path: path})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := l.Locate(netip.MustParseAddr("192.0.2.1")); got != "DE, Berlin" {
		t.Errorf("after removing the file: Locate = %q, want %q", got, "DE, Berlin")
	}
}

func TestClose(t *testing.T) {
	l, err := geoip.Open(geoip.Config{Path: cityDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"open", func() error { return nil }, "DE, Berlin"},
		{"closed", l.Close, ""},
		{"closed twice", l.Close, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := l.Locate(ip); got != s.want {
				t.Errorf("Locate = %q, want %q", got, s.want)
			}
		})
	}
	t.Run("nil Locator", func(t *testing.T) {
		var nl *geoip.Locator
		if got := nl.Locate(ip); got != "" {
			t.Errorf("nil Locate = %q", got)
		}
		if err := nl.Close(); err != nil {
			t.Errorf("nil Close = %v", err)
		}
	})
}

// TestConcurrent runs lookups from many goroutines while the Locator is
// closed under them (run with -race): every answer is right or "".
func TestConcurrent(t *testing.T) {
	l, err := geoip.Open(geoip.Config{Path: cityDB(t), Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]string{
		netip.MustParseAddr("192.0.2.1"):        "DE, Berlin",
		netip.MustParseAddr("203.0.113.1"):      "DE, München",
		netip.MustParseAddr("198.51.100.1"):     "FR",
		netip.MustParseAddr("2001:db8::1"):      "JP, Tokyo",
		netip.MustParseAddr("::ffff:192.0.2.9"): "DE, Berlin",
		netip.MustParseAddr("8.8.8.8"):          "",
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			<-start
			for i := range 2000 {
				for ip, w := range want {
					if got := l.Locate(ip); got != w && got != "" {
						t.Errorf("lookup %d: Locate(%v) = %q, want %q", i, ip, got, w)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		<-start
		for range 500 {
			l.Locate(netip.MustParseAddr("192.0.2.1"))
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	close(start)
	wg.Wait()
}
