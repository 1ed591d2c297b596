package testenv

import (
	"bufio"
	"io"
	"testing"
	"time"
)

// FirstLine reads the first line of a streamed response body. If it has
// not arrived within d, t fails with held: a proxy that buffers streams
// (server-sent events) holds the line back until the stream ends.
func FirstLine(t testing.TB, body io.Reader, d time.Duration, held string) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		return l
	case <-time.After(d):
		t.Fatal(held)
		return ""
	}
}
