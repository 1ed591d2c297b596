package modcrypto

import (
	"encoding/hex"
	"fmt"
	"testing"
)

func TestSipHashReferenceVectors(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for i, want := range sipVectors {
		t.Run(fmt.Sprintf("len%02d", i), func(t *testing.T) {
			got := siphashAuth(&key, msg[:i])
			if hex.EncodeToString(got[:]) != want {
				t.Fatalf("SipHash-2-4 of %d bytes = %x, want %s", i, got, want)
			}
		})
	}
}

func TestSipHashFirstVectorAsInteger(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	if got := siphash24(&key, nil); got != 0x726fdb47dd0e0e31 {
		t.Fatalf("SipHash-2-4 of the empty message = %#x, want 0x726fdb47dd0e0e31 (the paper's value)", got)
	}
}
