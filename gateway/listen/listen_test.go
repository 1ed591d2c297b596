package listen

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

func get(t *testing.T, addr net.Addr) (string, error) {
	t.Helper()
	resp, err := http.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

// TestBindMovesOrChangesNothing: a move to a port in use fails and leaves
// the running listener serving; a move to a free port closes the old one.
func TestBindMovesOrChangesNothing(t *testing.T) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	ls := New(Config{Handler: [3]http.Handler{hello, hello, hello}, Logger: slog.New(slog.DiscardHandler)})
	defer ls.ShutdownAll()
	bound, err := ls.Bind([3]string{"127.0.0.1:0", "", ""})
	if err != nil {
		t.Fatal(err)
	}
	first := bound[0]
	if body, err := get(t, first); err != nil || body != "hello" {
		t.Fatalf("first listener: %q, %v", body, err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := ls.Bind([3]string{busy.Addr().String(), "", "127.0.0.1:0"}); err == nil {
		t.Fatal("bind to a port in use succeeded")
	}
	if body, err := get(t, first); err != nil || body != "hello" {
		t.Fatalf("after a failed move the listener no longer serves: %q, %v", body, err)
	}
	if _, err := ls.Bind([3]string{"", "127.0.0.1:0", ""}); err == nil {
		t.Fatal("HTTPS without a TLS config bound")
	}

	next, err := ls.Bind([3]string{"localhost:0", "", ""})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(t, next[0]); err != nil || body != "hello" {
		t.Fatalf("moved listener: %q, %v", body, err)
	}
	ls.closing.Wait() // the old one finishes its requests, then closes
	if _, err := get(t, first); err == nil {
		t.Fatal("the old listener still serves after a move")
	}
	ls.ShutdownAll()
	if _, err := get(t, next[0]); err == nil {
		t.Fatal("a listener still serves after ShutdownAll")
	}
}
