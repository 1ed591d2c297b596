// Package geoip resolves client IP addresses to an area such as
// "DE, Berlin" from a MaxMind DB (.mmdb) file in the GeoIP2/GeoLite2 City
// or Country layout.
//
// A *Locator implements session.Locator: set it as session.Config.Locator
// and Manager.ListUserSessions fills Info.Area for each session from the
// IP address it was last seen from.
//
// The database is read into memory by Open, so replacing, truncating or
// deleting the file afterwards cannot disturb a running Locator. To pick up
// an updated database, Open the new file.
package geoip

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/sessiond/sessiond/session"
)

// Config configures a Locator.
type Config struct {
	// Path is the database file: GeoLite2-City.mmdb or
	// GeoLite2-Country.mmdb, or another MaxMind DB whose records have the
	// same layout (GeoIP2 City, Country or Enterprise; DB-IP's City and
	// Country Lite). Required.
	Path string
	// Language picks the city name among the record's localized names,
	// using the database's locale codes ("de", "fr", "ja", "pt-BR",
	// "zh-CN", ...). A city without a name in that language is given its
	// English name. Default "en".
	Language string
	// LocalNetworks also looks up addresses that are not public (loopback,
	// private, link-local), for a database that names internal networks
	// ("office VPN", "this machine"). Such a record needs no country: its
	// city name alone is the area. Off by default: public databases map
	// nothing useful there.
	LocalNetworks bool
}

// Locator maps IP addresses to areas. It is safe for concurrent use,
// including Close concurrently with Locate.
type Locator struct {
	path  string
	lang  string
	local bool

	mu sync.RWMutex
	db *maxminddb.Reader // nil once closed
}

var _ session.Locator = (*Locator)(nil)

// Errors wrapped by Open, for errors.Is. A missing or unreadable file
// wraps the *os.PathError instead (errors.Is(err, fs.ErrNotExist)).
var (
	// ErrNotMMDB: the file is not a MaxMind DB, or it is corrupt.
	ErrNotMMDB = errors.New("not a MaxMind DB file")
	// ErrLayout: the file is a MaxMind DB but not a City or Country
	// database (an ASN database, say), or its records do not have the
	// City/Country layout.
	ErrLayout = errors.New("not a City or Country database")
)

// layoutSample is how many records Open decodes to check the layout.
const layoutSample = 16

// record is the part of a City or Country record that Locate reads.
// Country databases simply have no "city".
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
}

// Open reads and checks the database at cfg.Path. Its errors name the
// file and say what is wrong with it: missing or unreadable (wrapping the
// *os.PathError), not a MaxMind DB (ErrNotMMDB), or not the City/Country
// layout (ErrLayout).
func Open(cfg Config) (*Locator, error) {
	if cfg.Path == "" {
		return nil, errors.New("geoip: Config.Path is empty")
	}
	lang := cfg.Language
	if lang == "" {
		lang = "en"
	}
	data, err := readFile(cfg.Path)
	if err != nil {
		return nil, err
	}
	db, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s: %w: %w", cfg.Path, ErrNotMMDB, err)
	}
	if err := checkLayout(db); err != nil {
		_ = db.Close() // an in-memory reader: nothing to release
		return nil, fmt.Errorf("geoip: %s: %w", cfg.Path, err)
	}
	return &Locator{path: cfg.Path, lang: lang, local: cfg.LocalNetworks, db: db}, nil
}

// readFile reads a regular file whole. Anything else (a directory, a
// device such as /dev/zero, a FIFO) is refused rather than read forever.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: reading database: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("geoip: reading database: %w", err)
	}
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		return nil, fmt.Errorf("geoip: %s: %w: %s", path, ErrNotMMDB, what)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("geoip: reading database %s: %w", path, err)
	}
	return data, nil
}

// checkLayout accepts databases whose type names a City, Country or
// Enterprise database and whose first records decode as such.
func checkLayout(db *maxminddb.Reader) error {
	typ := db.Metadata.DatabaseType
	lower := strings.ToLower(typ)
	if !strings.Contains(lower, "city") && !strings.Contains(lower, "country") && !strings.Contains(lower, "enterprise") {
		return fmt.Errorf("%w: database type %q (want GeoLite2-City, GeoLite2-Country or the like)", ErrLayout, typ)
	}
	n := 0
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("%w: corrupt search tree: %w", ErrNotMMDB, err)
		}
		var rec record
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("%w: database type %q, but the record for %s does not have that layout: %w",
				ErrLayout, typ, res.Prefix(), err)
		}
		if n++; n == layoutSample {
			break
		}
	}
	return nil
}

// Locate returns the area of ip: the ISO 3166 country code and the city
// name ("DE, Berlin"), just the country code if the database has no city
// for ip ("FR"), or "" if ip is unknown to the database, has no country,
// or is not a public unicast address (invalid, unspecified, loopback,
// link-local, multicast, private). An IPv4-mapped IPv6 address is looked
// up as IPv4; a zone is ignored. Locate never panics, and returns "" once
// the Locator is closed.
func (l *Locator) Locate(ip netip.Addr) (area string) {
	if l == nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	local := ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
	if (!ip.IsGlobalUnicast() || ip.IsPrivate()) && !(l.local && local) {
		return ""
	}
	// The decoder checks its input, but the file came from outside: a
	// decoder bug must cost one area, not the request listing sessions.
	defer func() {
		if recover() != nil {
			area = ""
		}
	}()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.db == nil {
		return ""
	}
	var rec record
	if err := l.db.Lookup(ip).Decode(&rec); err != nil {
		return ""
	}
	cc := rec.Country.ISOCode
	city := rec.City.Names[l.lang]
	if city == "" {
		city = rec.City.Names["en"]
	}
	if cc == "" {
		if local {
			return city // an internal network: no country
		}
		return ""
	}
	if city == "" {
		return cc
	}
	return cc + ", " + city
}

// Close releases the database. Later calls to Locate return "", and
// closing again is a no-op.
func (l *Locator) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil
	}
	err := l.db.Close()
	l.db = nil
	if err != nil {
		return fmt.Errorf("geoip: closing %s: %w", l.path, err)
	}
	return nil
}
