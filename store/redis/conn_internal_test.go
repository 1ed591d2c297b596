package redis

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestProbeSkippedOnlyInRecentUse checks when the pool's check of a
// connection (the function go-redis passes to its RawConn's Read) runs: not
// while the connection read less than probeIdle ago, again once it has
// idled that long, or as soon as another connection of the client was
// found closed.
func TestProbeSkippedOnlyInRecentUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var d net.Dialer
	dial := dialer(d.DialContext)
	open := func() (*trackedConn, net.Conn) {
		c, err := dial(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		tc, ok := c.(*trackedConn)
		if !ok {
			t.Fatalf("dialer returned %T, want *trackedConn", c)
		}
		peer := <-accepted
		t.Cleanup(func() { peer.Close() })
		return tc, peer
	}
	probed := func(c *trackedConn) bool {
		raw, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		if err := raw.Read(func(uintptr) bool { ran = true; return true }); err != nil {
			t.Fatal(err)
		}
		return ran
	}
	// roundTrip reads a byte the peer sent, as a command's reply.
	roundTrip := func(c *trackedConn, peer net.Conn) {
		if _, err := peer.Write([]byte{'+'}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}

	a, peerA := open()
	b, peerB := open()
	roundTrip(a, peerA)
	roundTrip(b, peerB)
	if probed(a) {
		t.Error("a connection that just read was probed")
	}
	time.Sleep(probeIdle + 10*time.Millisecond)
	if !probed(a) {
		t.Errorf("a connection idle for %v was not probed", probeIdle)
	}
	roundTrip(a, peerA)
	roundTrip(b, peerB)
	if probed(b) {
		t.Error("a connection that just read was probed")
	}
	// The server closes a: its next read finds the end of the stream.
	peerA.Close()
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a closed connection succeeded")
	}
	if !probed(b) {
		t.Error("a connection in recent use was not probed after another was found closed")
	}
	roundTrip(b, peerB)
	if probed(b) {
		t.Error("a connection that read after the other was found closed was probed")
	}
}
