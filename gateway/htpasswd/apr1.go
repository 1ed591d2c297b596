package htpasswd

import (
	"crypto/md5"
	"strings"
)

// APR1 is Apache's variant of Poul-Henning Kamp's MD5-based crypt ("$1$"),
// with the magic string "$apr1$". It is written here from the published
// description of the algorithm; the tests check it against
// `openssl passwd -apr1`. It is a legacy scheme (1,000 MD5 rounds) and is
// only ever verified, never produced.

const apr1Magic = "$apr1$"

// crypt64 is the alphabet of crypt(3)'s base-64 encoding.
const crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// apr1Crypt hashes password with salt (at most 8 bytes are used) and
// returns the full "$apr1$salt$hash" string.
func apr1Crypt(password, salt string) string {
	if len(salt) > 8 {
		salt = salt[:8]
	}
	pw := []byte(password)

	alt := md5.New()
	alt.Write(pw)
	alt.Write([]byte(salt))
	alt.Write(pw)
	altSum := alt.Sum(nil)

	ctx := md5.New()
	ctx.Write(pw)
	ctx.Write([]byte(apr1Magic))
	ctx.Write([]byte(salt))
	for n := len(pw); n > 0; n -= 16 {
		ctx.Write(altSum[:min(n, 16)])
	}
	// For each bit of the length, low bit first: a NUL byte for a one bit,
	// the first password byte for a zero bit (a quirk of the original).
	for i := len(pw); i != 0; i >>= 1 {
		if i&1 != 0 {
			ctx.Write([]byte{0})
		} else {
			ctx.Write(pw[:1])
		}
	}
	final := ctx.Sum(nil)

	// 1,000 rounds to slow down guessing (slightly, by today's standards).
	for i := range 1000 {
		r := md5.New()
		if i&1 != 0 {
			r.Write(pw)
		} else {
			r.Write(final)
		}
		if i%3 != 0 {
			r.Write([]byte(salt))
		}
		if i%7 != 0 {
			r.Write(pw)
		}
		if i&1 != 0 {
			r.Write(final)
		} else {
			r.Write(pw)
		}
		final = r.Sum(final[:0])
	}

	var b strings.Builder
	b.Grow(len(apr1Magic) + len(salt) + 1 + 22)
	b.WriteString(apr1Magic)
	b.WriteString(salt)
	b.WriteByte('$')
	// The digest bytes are emitted in this permuted order, three at a time,
	// as four base-64 digits each, least significant digit first.
	for _, g := range [5][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		v := uint(final[g[0]])<<16 | uint(final[g[1]])<<8 | uint(final[g[2]])
		to64(&b, v, 4)
	}
	to64(&b, uint(final[11]), 2)
	return b.String()
}

func to64(b *strings.Builder, v uint, n int) {
	for ; n > 0; n-- {
		b.WriteByte(crypt64[v&0x3f])
		v >>= 6
	}
}

// parseAPR1 splits "$apr1$salt$hash" and checks its shape: a salt of 1 to 8
// characters without '$' and a hash of 22 crypt64 characters.
func parseAPR1(s string) (salt string, ok bool) {
	rest, found := strings.CutPrefix(s, apr1Magic)
	if !found {
		return "", false
	}
	salt, sum, found := strings.Cut(rest, "$")
	if !found || salt == "" || len(salt) > 8 || len(sum) != 22 {
		return "", false
	}
	for i := 0; i < len(sum); i++ {
		if strings.IndexByte(crypt64, sum[i]) < 0 {
			return "", false
		}
	}
	// The last digit carries only 2 of its 6 bits (128 = 21*6 + 2): a
	// stored hash whose spare bits are set was not made by this algorithm.
	if strings.IndexByte(crypt64, sum[21]) > 3 {
		return "", false
	}
	return salt, true
}
