package modcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/wire"
)

// Encode builds a cookie value in mod_session_crypto's format (httpd
// 2.4.25+, aes256): what Apache itself would issue. sessiond never issues
// these; Encode exists so tests and migration rehearsals can make real
// Apache cookies without an Apache. A zero expiry writes none.
func Encode(passphrase string, values map[string]string, expiry time.Time) (string, error) {
	var b strings.Builder
	b.WriteString(wire.EncodeValues(values))
	if !expiry.IsZero() {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString("expiry=" + strconv.FormatInt(expiry.UnixMicro(), 10))
	}
	return encrypt(passphrase, b.String(), nil, nil, 32, 0, true)
}

// encrypt is mod_session_crypto's encrypt_string: base64 of
// MAC(8) | salt(16) | IV(16) | AES-CBC(PKCS#7 padded payload). nil salt or
// IV draws random ones; padByte != 0 pads with that byte instead (tests of
// bad padding); withMAC false writes the pre-2.4.25 layout.
func encrypt(pass, payload string, salt, iv []byte, keyLen int, padByte byte, withMAC bool) (string, error) {
	if salt == nil {
		salt = make([]byte, saltSize)
		rand.Read(salt)
	}
	if iv == nil {
		iv = make([]byte, ivSize)
		rand.Read(iv)
	}
	key, err := pbkdf2.Key(sha1.New, pass, salt, iterations, keyLen)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	pt := []byte(payload)
	n := aes.BlockSize - len(pt)%aes.BlockSize
	for range n {
		if padByte != 0 {
			pt = append(pt, padByte)
		} else {
			pt = append(pt, byte(n))
		}
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	body := append(append(append([]byte{}, salt...), iv...), ct...)
	if !withMAC {
		return base64.StdEncoding.EncodeToString(body), nil
	}
	macKey := md5.Sum([]byte(pass))
	mac := siphashAuth(&macKey, body)
	return base64.StdEncoding.EncodeToString(append(mac[:], body...)), nil
}
