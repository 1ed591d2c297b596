package testkit_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/session"
)

func TestAuditorConcurrent(t *testing.T) {
	var a testkit.Auditor
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { a.Audit(context.Background(), session.Event{Type: fmt.Sprint("t", i%2), User: fmt.Sprint(i)}) })
	}
	wg.Wait()
	if a.Count("t0") != 25 || a.Count("t1") != 25 || len(a.Events()) != 50 || len(a.Types()) != 50 {
		t.Fatalf("counts t0=%d t1=%d events=%d", a.Count("t0"), a.Count("t1"), len(a.Events()))
	}
	a.Audit(context.Background(), session.Event{Type: "t0", User: "last"})
	if e, ok := a.Last("t0"); !ok || e.User != "last" {
		t.Fatalf("Last(t0) = %+v, %v", e, ok)
	}
	if _, ok := a.Last("none"); ok {
		t.Fatal("Last found an event type never recorded")
	}
	if got := a.Types(); !slices.Contains(got, "t1") {
		t.Fatalf("Types = %v", got)
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testkit.NewClock(start)
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("after Advance: %v", got)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set: %v", got)
	}
}

func TestBuffer(t *testing.T) {
	var b testkit.Buffer
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { b.Write([]byte("x")) })
	}
	wg.Wait()
	if b.String() != strings.Repeat("x", 10) {
		t.Fatalf("buffer = %q", b.String())
	}
	b.Reset()
	if b.String() != "" {
		t.Fatalf("after Reset: %q", b.String())
	}
}

func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testkit.WebSocketEcho))
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade = %v, %v", resp, err)
	}
	fmt.Fprint(conn, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo: hello\n" {
		t.Fatalf("echo = %q", got)
	}
}
