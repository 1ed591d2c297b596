package secure

import (
	"bufio"
	"bytes"
	"mime"
	"net"
	"net/http"
	"strings"
)

// contentWriter holds an HTML response for the content rules and streams
// everything else. The choice is made when the response starts: by its
// Content-Type, or, without one, by sniffing the first bytes as net/http
// would.
type contentWriter struct {
	w      http.ResponseWriter
	header http.Header // the handler's header, copied to w once streaming
	code   int
	mode   writeMode
	body   bytes.Buffer
	limit  int
	over   bool
}

type writeMode int

const (
	undecided writeMode = iota
	buffering           // HTML: held for the form check
	streaming           // anything else: passed through as written
	hijacked            // the connection was taken over (WebSocket)
)

func (c *contentWriter) Header() http.Header { return c.header }

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *contentWriter) Unwrap() http.ResponseWriter { return c.w }

func (c *contentWriter) WriteHeader(code int) {
	if c.code != 0 || c.mode != undecided {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		c.interim(code)
		return
	}
	c.code = code
	if ct := c.header.Get("Content-Type"); ct != "" || code == http.StatusSwitchingProtocols {
		c.decide(ct)
	}
}

// interim passes a 1xx response on with the handler's current header,
// leaving w's own header as it was.
func (c *contentWriter) interim(code int) {
	h := c.w.Header()
	saved := make(http.Header, len(c.header))
	for k, v := range c.header {
		if old, ok := h[k]; ok {
			saved[k] = old
		} else {
			saved[k] = nil
		}
		h[k] = v
	}
	c.w.WriteHeader(code)
	for k, v := range saved {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
}

// decide picks buffering for HTML and streaming for anything else.
func (c *contentWriter) decide(contentType string) {
	if isHTML(contentType) {
		c.mode = buffering
		return
	}
	c.mode = streaming
	c.start()
}

func (c *contentWriter) start() {
	h := c.w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	if c.code == 0 {
		c.code = http.StatusOK
	}
	c.w.WriteHeader(c.code)
}

func (c *contentWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.mode == undecided {
		// No Content-Type: sniff the first 512 bytes, as net/http does.
		c.body.Write(p)
		if c.body.Len() < sniffLen {
			return len(p), nil
		}
		return len(p), c.sniff()
	}
	switch c.mode {
	case streaming:
		return c.w.Write(p)
	case hijacked:
		return 0, http.ErrHijacked
	}
	if c.body.Len()+len(p) > c.limit {
		c.over = true
		return len(p), nil
	}
	return c.body.Write(p)
}

const sniffLen = 512

// sniff decides by the bytes held so far; a stream gets them at once.
func (c *contentWriter) sniff() error {
	c.decide(http.DetectContentType(c.body.Bytes()))
	if c.mode != streaming {
		if c.body.Len() > c.limit {
			c.over = true
			c.body.Reset()
		}
		return nil
	}
	_, err := c.w.Write(c.body.Bytes())
	c.body.Reset()
	return err
}

// Flush flushes a stream; a held page is sent whole at the end.
func (c *contentWriter) Flush() {
	if c.mode == undecided && c.code != 0 {
		if c.body.Len() > 0 {
			c.sniff()
		} else {
			c.decide(c.header.Get("Content-Type"))
		}
	}
	if c.mode == streaming {
		http.NewResponseController(c.w).Flush()
	}
}

func (c *contentWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if c.mode != undecided || c.code != 0 {
		return nil, nil, http.ErrNotSupported
	}
	conn, rw, err := http.NewResponseController(c.w).Hijack()
	if err == nil {
		c.mode = hijacked
	}
	return conn, rw, err
}

// flush sends a held (or short, unsniffed) response that passed the
// check.
func (c *contentWriter) flush() {
	c.start()
	c.w.Write(c.body.Bytes())
}

func isHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(strings.ToLower(contentType), ";")
		mt = strings.TrimSpace(mt)
	}
	return mt == "text/html" || mt == "application/xhtml+xml"
}
