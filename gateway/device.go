package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond/internal/ratelimit"
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

// deviceCookieName is the device cookie (HTTPS only, not readable by
// scripts, never forwarded to backends).
const deviceCookieName = "__Host-sessiond-device"

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
func newDevices(site string, key []byte, attempts int, per time.Duration) (*devices, error) {
	if attempts < 0 {
		return nil, nil
	}
	if attempts == 0 {
		attempts = 10
	}
	if per <= 0 {
		per = time.Hour
	}
	lim, err := ratelimit.New(ratelimit.Config{Every: max(per/time.Duration(attempts), time.Nanosecond), Burst: attempts})
	if err != nil {
		return nil, err
	}
	return &devices{site: site, key: key, perDevice: lim, lockFor: per, now: time.Now, locked: map[string]time.Time{}}, nil
}

func (d *devices) mac(user, nonce, exp string) []byte {
	m := hmac.New(sha256.New, d.key)
	for _, part := range []string{"sessiond device cookie v1", d.site, user, nonce, exp} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// issue sets a fresh device cookie for user.
func (d *devices) issue(w http.ResponseWriter, user string) {
	if d == nil {
		return
	}
	var n [16]byte
	rand.Read(n[:])
	nonce := b64.EncodeToString(n[:])
	exp := strconv.FormatInt(d.now().Add(deviceTTL).Unix(), 10)
	v := strings.Join([]string{"v1", b64.EncodeToString([]byte(user)), nonce, exp,
		b64.EncodeToString(d.mac(user, nonce, exp))}, ".")
	http.SetCookie(w, &http.Cookie{Name: deviceCookieName, Value: v, Path: "/", MaxAge: int(deviceTTL / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// trusted returns the nonce of the request's device cookie if it is
// valid, names user, has not expired and is not locked out.
func (d *devices) trusted(r *http.Request, user string) (nonce string, ok bool) {
	if d == nil {
		return "", false
	}
	cs := r.CookiesNamed(deviceCookieName)
	if len(cs) != 1 || len(cs[0].Value) > maxDeviceCookie || user == "" {
		return "", false // none, or tossed: never pick one
	}
	parts := strings.Split(cs[0].Value, ".")
	if len(parts) != 5 || parts[0] != "v1" {
		return "", false
	}
	u, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	sig, err := b64.DecodeString(parts[4])
	if err != nil || !hmac.Equal(sig, d.mac(string(u), parts[2], parts[3])) {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || d.now().Unix() >= exp || string(u) != user {
		return "", false
	}
	nonce = parts[2]
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
