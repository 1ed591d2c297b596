// Package modcrypto reads session cookies written by Apache httpd's
// mod_session_crypto (httpd 2.4.25 and later), so that a site moving from
// Apache to sessiond can take over its visitors' sessions once instead of
// logging everybody out. It only decodes; it never writes this format.
//
// # Format
//
// The cookie value is standard base64 of
//
//	MAC (8 bytes) | salt (16 bytes) | IV (16 bytes) | ciphertext
//
// where, for each configured passphrase P (SessionCryptoPassphrase, the
// first encrypts, all are tried on decryption):
//
//   - MAC is SipHash-2-4 over salt|IV|ciphertext keyed with MD5(P), written
//     little-endian (mod_session_crypto's compute_auth, added in 2.4.25 for
//     CVE-2016-0736). Cookies from older httpd have no MAC and are refused:
//     their CBC padding is an oracle.
//   - the key is PBKDF2-HMAC-SHA1(P, salt, 4096 iterations), 32 bytes for
//     the default cipher "aes256" (SessionCryptoCipher; "aes192" and "aes128"
//     are supported too), and the ciphertext is CBC with PKCS#7 padding.
//   - the plaintext is mod_session's urlencoded table, "k=v&k2=v2", with the
//     expiry (SessionMaxAge) as the key "expiry" in microseconds since 1970.
//
// # Cost and abuse
//
// PBKDF2 with 4,096 iterations is why Apache's crypto cookies are slow: it
// runs on every request there. Here the MAC is checked first (one MD5 and one
// SipHash per passphrase, microseconds), so a forged or tampered cookie never
// reaches PBKDF2. Only an authentic cookie does, and its derived key is kept
// in a bounded LRU keyed by (passphrase, salt), so even replaying many
// genuine cookies costs at most one derivation each and a fixed amount of
// memory.
//
// The gateway is expected to accept such a cookie once: decode it, start a
// sessiond session from its values, expire the Apache cookie, and remember
// Session.Digest in a bounded replay set so the same value is not imported
// twice. A decoded session is as trustworthy as the passphrase was secret;
// mod_auth_form stores the login name under "user" and the password, in
// clear, under "pw" — import the first only after checking it against the
// gateway's own users, and drop the second.
//
// A *Decoder is safe for concurrent use.
package modcrypto

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/wire"
)

// Sizes of the format.
const (
	macSize  = 8
	saltSize = 16 // an apr_uuid_t
	ivSize   = aes.BlockSize
	minSize  = macSize + saltSize + ivSize + aes.BlockSize

	iterations = 4096
)

// MaxCookieLen is the longest cookie value Decode looks at. Browsers keep
// at most 4096 bytes per cookie; anything longer is not from Apache.
const MaxCookieLen = 8192

// DefaultCacheSize is the number of derived keys a Decoder keeps by default.
const DefaultCacheSize = 1024

// Errors. Every malformed, forged, tampered or undecryptable value is
// ErrInvalid; the wrapped detail is for logs, and callers should answer all
// of them the same way.
var (
	ErrInvalid = errors.New("modcrypto: not a valid mod_session_crypto cookie")
	ErrExpired = errors.New("modcrypto: mod_session cookie has expired")
)

// Options tune a Decoder. The zero value is Apache's defaults.
type Options struct {
	// Cipher is SessionCryptoCipher: "aes256" (default), "aes192" or
	// "aes128".
	Cipher string
	// CacheSize bounds the derived-key cache. Default: DefaultCacheSize.
	CacheSize int
	// Now is the clock for expiry. Default: time.Now.
	Now func() time.Time
	// RequireExpiry refuses cookies without an expiry (SessionMaxAge 0
	// made them valid forever).
	RequireExpiry bool
}

// Decoder opens mod_session_crypto cookies.
type Decoder struct {
	phrases []phrase
	keyLen  int
	now     func() time.Time
	needExp bool
	cache   *lru
}

type phrase struct {
	pass   string
	macKey [16]byte // MD5 of the passphrase
}

// Session is a decoded mod_session table.
type Session struct {
	// Values holds the session's keys, without "expiry".
	Values map[string]string
	// Expiry is when Apache would have stopped accepting the session; zero
	// if it had none.
	Expiry time.Time
	// Digest identifies this exact cookie value (a hash of its bytes), for
	// a replay set. It reveals nothing about the content.
	Digest string
}

// New returns a decoder that tries each passphrase in order.
func New(passphrases []string, opts Options) (*Decoder, error) {
	if len(passphrases) == 0 {
		return nil, errors.New("modcrypto: no passphrase")
	}
	d := &Decoder{now: opts.Now, needExp: opts.RequireExpiry}
	switch opts.Cipher {
	case "", "aes256":
		d.keyLen = 32
	case "aes192":
		d.keyLen = 24
	case "aes128":
		d.keyLen = 16
	default:
		return nil, fmt.Errorf("modcrypto: cipher %q is not supported (want aes256, aes192 or aes128)", opts.Cipher)
	}
	if d.now == nil {
		d.now = time.Now
	}
	size := opts.CacheSize
	if size < 0 {
		return nil, fmt.Errorf("modcrypto: CacheSize is %d; want 0 (default) or more", size)
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	d.cache = newLRU(size)
	for i, p := range passphrases {
		if p == "" {
			return nil, fmt.Errorf("modcrypto: passphrase %d is empty", i+1)
		}
		d.phrases = append(d.phrases, phrase{pass: p, macKey: md5.Sum([]byte(p))})
	}
	return d, nil
}

// ReadPassphraseFile reads passphrases, one per line, as given to
// SessionCryptoPassphrase (without quotes). Surrounding white space is
// trimmed; blank lines and lines starting with '#' are skipped. Apache's
// "exec:" form is not supported: run the program and write its output here.
func ReadPassphraseFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("modcrypto: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modcrypto: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("modcrypto: %s holds no passphrase", path)
	}
	return out, nil
}

// Decode opens one cookie value.
func (d *Decoder) Decode(value string) (*Session, error) {
	raw, err := decodeBase64(value)
	if err != nil {
		return nil, err
	}
	if len(raw) < minSize || (len(raw)-macSize-saltSize-ivSize)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not MAC+salt+IV+whole blocks", ErrInvalid, len(raw))
	}
	mac, body := raw[:macSize], raw[macSize:]
	var salt [saltSize]byte
	copy(salt[:], body[:saltSize])
	iv := body[saltSize : saltSize+ivSize]
	ct := body[saltSize+ivSize:]

	// Check every passphrase's MAC without stopping early, so timing does
	// not tell which one matched.
	match := -1
	for i := range d.phrases {
		want := siphashAuth(&d.phrases[i].macKey, body)
		if subtle.ConstantTimeCompare(want[:], mac) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return nil, fmt.Errorf("%w: MAC matches no passphrase", ErrInvalid)
	}
	block, err := d.block(match, salt)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pt, ok := unpad(pt)
	if !ok {
		// Authentic but badly padded: not something Apache writes.
		return nil, fmt.Errorf("%w: bad padding", ErrInvalid)
	}
	s, err := parsePayload(string(pt))
	if err != nil {
		return nil, err
	}
	if d.needExp && s.Expiry.IsZero() {
		return nil, fmt.Errorf("%w: no expiry and RequireExpiry is set", ErrExpired)
	}
	if !s.Expiry.IsZero() && s.Expiry.Before(d.now()) {
		return nil, ErrExpired
	}
	sum := sha256.Sum256(raw)
	s.Digest = hex.EncodeToString(sum[:16])
	return s, nil
}

func decodeBase64(value string) ([]byte, error) {
	if len(value) > MaxCookieLen {
		return nil, fmt.Errorf("%w: value longer than %d bytes", ErrInvalid, MaxCookieLen)
	}
	if raw, err := base64.StdEncoding.DecodeString(value); err == nil {
		return raw, nil
	}
	// Some clients drop the padding.
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(value, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrInvalid)
	}
	return raw, nil
}

// block returns the AES block for passphrase i and salt, deriving it with
// PBKDF2 on a cache miss.
func (d *Decoder) block(i int, salt [saltSize]byte) (cipher.Block, error) {
	k := cacheKey{phrase: i, salt: salt}
	if b, ok := d.cache.get(k); ok {
		return b, nil
	}
	key, err := pbkdf2.Key(sha1.New, d.phrases[i].pass, salt[:], iterations, d.keyLen)
	if err != nil {
		return nil, fmt.Errorf("modcrypto: deriving key: %w", err)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("modcrypto: %w", err)
	}
	d.cache.add(k, b)
	return b, nil
}

// unpad strips PKCS#7 padding.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// parsePayload reads mod_session's table the way httpd 2.4 does (see
// wire.HTTPDPairs): a pair with a bad escape or a NUL is skipped, an empty
// value deletes the key, and "expiry" is taken out.
func parsePayload(s string) (*Session, error) {
	out := &Session{Values: map[string]string{}}
	for k, v := range wire.HTTPDPairs(s) {
		if v == "" {
			delete(out.Values, k)
			continue
		}
		if k == "expiry" {
			us, err := strconv.ParseInt(v, 10, 64)
			if err != nil || us < 0 {
				return nil, fmt.Errorf("%w: expiry is not a number of microseconds", ErrInvalid)
			}
			out.Expiry = time.Time{}
			if us > 0 {
				out.Expiry = time.UnixMicro(us)
			}
			continue
		}
		out.Values[k] = v
	}
	return out, nil
}
