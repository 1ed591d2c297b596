package modcrypto

import (
	"encoding/binary"
	"math/bits"
)

// siphash24 is SipHash-2-4 (Aumasson and Bernstein, 2012): 2 compression
// rounds per 8-byte block, 4 finalisation rounds, a 128-bit key and a 64-bit
// result. mod_session_crypto authenticates its cookies with it (through
// apr_siphash24_auth, which writes the result little-endian).
func siphash24(key *[16]byte, msg []byte) uint64 {
	k0 := binary.LittleEndian.Uint64(key[0:8])
	k1 := binary.LittleEndian.Uint64(key[8:16])
	v0 := k0 ^ 0x736f6d6570736575 // "somepseu"
	v1 := k1 ^ 0x646f72616e646f6d // "dorandom"
	v2 := k0 ^ 0x6c7967656e657261 // "lygenera"
	v3 := k1 ^ 0x7465646279746573 // "tedbytes"

	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}

	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
		msg = msg[8:]
	}
	// Last block: the remaining bytes, little-endian, with the message
	// length (mod 256) in the top byte.
	m := uint64(n&0xff) << 56
	for i, c := range msg {
		m |= uint64(c) << (8 * i)
	}
	v3 ^= m
	round()
	round()
	v0 ^= m

	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// siphashAuth is apr_siphash24_auth: the 64-bit result as 8 little-endian
// bytes.
func siphashAuth(key *[16]byte, msg []byte) [8]byte {
	var out [8]byte
	binary.LittleEndian.PutUint64(out[:], siphash24(key, msg))
	return out
}
