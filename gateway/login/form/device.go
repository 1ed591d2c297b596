package form

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/internal/ratelimit"
	"github.com/sessiond/sessiond/session"
)

// Device cookies (OWASP "Slow Brute Force with Device Cookies"): a client
// that has signed in successfully gets a signed cookie naming the user. A
// login attempt that carries a valid device cookie for the user name it
// enters is not subject to the per-user and per-client limits, so an
// attacker guessing a user's password cannot lock that user out of the
// browsers they already use. Such a cookie has its own failure budget;
// past it, the cookie goes on a lockout list and counts as untrusted (the
// per-user limit applies again). Clients without a device cookie keep the
// per-user limit, which stops distributed guessing.

// DeviceCookieName is the device cookie (HTTPS only, not readable by
// scripts, never forwarded to backends).
const DeviceCookieName = "__Host-sessiond-device"

// deviceTTL is how long a device cookie is trusted after its sign-in.
const deviceTTL = 90 * 24 * time.Hour

// maxDeviceCookie bounds what is parsed.
const maxDeviceCookie = 1024

type devices struct {
	site      string
	key       []byte
	perDevice *ratelimit.Limiter // failures per device cookie
	lockFor   time.Duration
	now       func() time.Time

	mu     sync.Mutex
	locked map[string]time.Time // device nonce -> end of lockout
}

// newDevices returns nil (device cookies off: every client is untrusted)
// when attempts is negative; zero values mean the defaults.
func newDevices(site string, key []byte, r config.Rate) (*devices, error) {
	if r.Attempts <= 0 {
		return nil, nil // attempts 0: no device cookies
	}
	attempts, per := r.Attempts, r.Per
	lim, err := ratelimit.New(ratelimit.Config{Every: max(per/time.Duration(attempts), time.Nanosecond), Burst: attempts})
	if err != nil {
		return nil, err
	}
	return &devices{site: site, key: key, perDevice: lim, lockFor: per, now: time.Now, locked: map[string]time.Time{}}, nil
}

// mac signs parts after a purpose label and the site.
func (d *devices) mac(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, d.key)
	for _, part := range append([]string{purpose, d.site}, parts...) {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

const (
	purposeCookie  = "sessiond device cookie v1"
	purposeRestore = "sessiond device restore v1"
)

var b64 = base64.RawURLEncoding

// issue sets a fresh device cookie for user.
func (d *devices) issue(w http.ResponseWriter, user string) {
	if d == nil {
		return
	}
	var n [16]byte
	rand.Read(n[:])
	nonce := b64.EncodeToString(n[:])
	d.set(w, user, nonce, d.now().Add(deviceTTL).Unix())
}

func (d *devices) set(w http.ResponseWriter, user, nonce string, exp int64) {
	e := strconv.FormatInt(exp, 10)
	v := strings.Join([]string{"v1", b64.EncodeToString([]byte(user)), nonce, e,
		b64.EncodeToString(d.mac(purposeCookie, user, nonce, e))}, ".")
	http.SetCookie(w, &http.Cookie{Name: DeviceCookieName, Value: v, Path: "/", MaxAge: int(exp - d.now().Unix()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// parse checks a device cookie's signature and expiry.
func (d *devices) parse(v string) (user, nonce string, exp int64, ok bool) {
	if len(v) > maxDeviceCookie {
		return "", "", 0, false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 5 || parts[0] != "v1" {
		return "", "", 0, false
	}
	u, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", "", 0, false
	}
	sig, err := b64.DecodeString(parts[4])
	if err != nil || !hmac.Equal(sig, d.mac(purposeCookie, string(u), parts[2], parts[3])) {
		return "", "", 0, false
	}
	exp, err = strconv.ParseInt(parts[3], 10, 64)
	if err != nil || d.now().Unix() >= exp {
		return "", "", 0, false
	}
	return string(u), parts[2], exp, true
}

// trusted returns the nonce of the request's device cookie if it is
// valid, names user, has not expired and is not locked out.
func (d *devices) trusted(r *http.Request, user string) (nonce string, ok bool) {
	if d == nil {
		return "", false
	}
	cs := r.CookiesNamed(DeviceCookieName)
	if len(cs) != 1 || user == "" {
		return "", false // none, or tossed: never pick one
	}
	u, nonce, _, ok := d.parse(cs[0].Value)
	if !ok || u != user {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if until, ok := d.locked[nonce]; ok {
		if d.now().Before(until) {
			return "", false
		}
		delete(d.locked, nonce)
	}
	return nonce, true
}

// failed counts a wrong password sent with a trusted device cookie and
// reports whether that put the cookie on the lockout list.
func (d *devices) failed(nonce string) bool {
	// The budget's last failure locks the cookie out.
	if ok, _ := d.perDevice.Take(nonce); ok && d.perDevice.RetryAfter(nonce) == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if len(d.locked) >= 100_000 { // bounded: drop finished lockouts, then the whole list if still full
		for k, until := range d.locked {
			if !now.Before(until) {
				delete(d.locked, k)
			}
		}
		if len(d.locked) >= 100_000 {
			d.locked = map[string]time.Time{}
		}
	}
	d.locked[nonce] = now.Add(d.lockFor)
	return true
}

// A logout answers with Clear-Site-Data: "cookies", which makes the
// browser drop the device cookie too — and a browser that signed out
// would be untrusted at its next sign-in, exactly when an attacker keeps
// the user's name locked. So the logout redirects through
// DeviceRestorePath with a one-time token (one minute, signed, naming the
// same device cookie, claimed on use) that sets the cookie again after
// the clearing.

const DeviceRestorePath = "/.sessiond/device"

const restoreTTL = time.Minute

// restoreURL returns where a logout sends the browser so that its device
// cookie comes back, then on to next; next itself if it has none.
func (d *devices) restoreURL(r *http.Request, next string) string {
	if d == nil {
		return next
	}
	cs := r.CookiesNamed(DeviceCookieName)
	if len(cs) != 1 {
		return next
	}
	user, nonce, exp, ok := d.parse(cs[0].Value)
	if !ok {
		return next
	}
	e, te := strconv.FormatInt(exp, 10), strconv.FormatInt(d.now().Add(restoreTTL).Unix(), 10)
	tok := strings.Join([]string{"r1", b64.EncodeToString([]byte(user)), nonce, e, te,
		b64.EncodeToString(d.mac(purposeRestore, user, nonce, e, te))}, ".")
	return DeviceRestorePath + "?t=" + url.QueryEscape(tok) + "&next=" + url.QueryEscape(next)
}

// serveRestore sets the device cookie a restore token names (once), then
// redirects to next.
func (m *Method) serveRestore(w http.ResponseWriter, r *http.Request) {
	d := m.devices
	q := r.URL.Query()
	next := login.SafeNext(q.Get("next"))
	defer func() {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, next, http.StatusSeeOther)
	}()
	tok := q.Get("t")
	if d == nil || len(tok) > 2*maxDeviceCookie || r.Method != http.MethodGet {
		return
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 6 || parts[0] != "r1" {
		return
	}
	u, err := b64.DecodeString(parts[1])
	if err != nil {
		return
	}
	sig, err := b64.DecodeString(parts[5])
	if err != nil || !hmac.Equal(sig, d.mac(purposeRestore, string(u), parts[2], parts[3], parts[4])) {
		m.s.Audit(r, session.Event{Type: "device.restore_refused"})
		return
	}
	exp, err1 := strconv.ParseInt(parts[3], 10, 64)
	texp, err2 := strconv.ParseInt(parts[4], 10, 64)
	now := d.now()
	if err1 != nil || err2 != nil || now.Unix() >= texp || now.Unix() >= exp {
		return
	}
	first, err := m.claims.Claim(r.Context(), "device-restore:"+parts[2]+":"+parts[4], time.Unix(texp, 0).Add(time.Minute))
	if err != nil || !first {
		m.s.Audit(r, session.Event{Type: "device.restore_refused", Attrs: []slog.Attr{slog.String("reason", "used before")}})
		return
	}
	d.set(w, string(u), parts[2], exp)
}
