package secure_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/secure"
)

func rawRequest(t *testing.T, method, uri string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + uri + " HTTP/1.1\r\nHost: shop.test\r\n\r\n")))
	if err != nil {
		t.Fatalf("%s: %v", uri, err)
	}
	return r
}

func TestCanonicalPath(t *testing.T) {
	for _, tc := range []struct {
		uri, canon string
		ok         bool
	}{
		{"/private/secret.txt", "/private/secret.txt", true},
		{"/dir/", "/dir/", true},
		{"/a%20b?x=%2e%2e", "/a b", true},
		{"/caf%C3%A9", "/café", true},
		{"/./private/secret.txt", "/private/secret.txt", false},
		{"//private/secret.txt", "/private/secret.txt", false},
		{"/x/../private/secret.txt", "/private/secret.txt", false},
		{"/%2e/private/secret.txt", "/private/secret.txt", false},
		{"/%2E%2E/private/secret.txt", "/private/secret.txt", false},
		{"/x/%2e%2e/private/", "/private/", false},
		{"/private%2fsecret.txt", "/private/secret.txt", false},
		{"/x%2F..%2Fprivate", "/private", false},
		{"/private/./", "/private/", false},
		{"/..", "/", false},
		{"/x\\..\\private", "/x\\..\\private", false},
		// ";" parameters: Tomcat and Spring strip them, then resolve.
		{"/private;jsessionid=1/x", "/private/x", false},
		{"/x/..;/private/x", "/private/x", false},
		{"/x/..;a=b/private/x", "/private/x", false},
		{"/private;/x", "/private/x", false},
		{"/;x/private", "/private", false},
		{"/private;x", "/private", false},
		{"/private/;x", "/private/", false},
		{"/private%3bjsessionid=1/x", "/private/x", false},
		{"/private%3B/x", "/private/x", false},
		{"/.;/private", "/private", false},
		{"/;", "/", false},
		{"/private?a=1;b=2", "/private", true},
		// Case and extensions are the matcher's (PathMatcher), not this.
		{"/PRIVATE/x", "/PRIVATE/x", true},
		{"/private.json", "/private.json", true},
		{"/private%2ejson", "/private.json", true},
	} {
		canon, ok := secure.CanonicalPath(rawRequest(t, "GET", tc.uri))
		if canon != tc.canon || ok != tc.ok {
			t.Errorf("CanonicalPath(%s) = %q, %v; want %q, %v", tc.uri, canon, ok, tc.canon, tc.ok)
		}
	}
}

func TestCanonicalize(t *testing.T) {
	for _, tc := range []struct {
		method, uri string
		code        int
		location    string
	}{
		{"GET", "/x/../private/secret.txt?a=1", 302, "/private/secret.txt?a=1"},
		{"HEAD", "//private/", 302, "/private/"},
		{"GET", "/%2e/a%20b", 302, "/a%20b"},
		{"POST", "/x/../private/form", 400, ""},
		{"DELETE", "/%2e/private", 400, ""},
		{"GET", "/private/secret.txt", 0, ""},
		{"GET", "/private;jsessionid=1/x?a=1", 302, "/private/x?a=1"},
		{"HEAD", "/x/..;/private/x", 302, "/private/x"},
		{"GET", "/a%20b;x/c", 302, "/a%20b/c"},
		{"POST", "/private;jsessionid=1/x", 400, ""},
		{"PUT", "/x/..;/private/x", 400, ""},
	} {
		w := httptest.NewRecorder()
		done := secure.Canonicalize(w, rawRequest(t, tc.method, tc.uri))
		if (tc.code == 0) == done || (done && (w.Code != tc.code || w.Header().Get("Location") != tc.location)) {
			t.Errorf("%s %s: answered %v, %d to %q; want %d to %q", tc.method, tc.uri, done, w.Code, w.Header().Get("Location"),
				tc.code, tc.location)
		}
		if loc := w.Header().Get("Location"); loc != "" {
			// The target is canonical: no redirect loop.
			if secure.Canonicalize(httptest.NewRecorder(), rawRequest(t, tc.method, loc)) {
				t.Errorf("%s %s: the target %q is redirected again", tc.method, tc.uri, loc)
			}
		}
	}
}
