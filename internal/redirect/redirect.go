// Package redirect holds the one rule for the status of a redirect that
// changes only the URL (to HTTPS, to the login page): GET and HEAD get 302
// (301 when permanent), which every client follows; any other method gets
// 307, which keeps the method and the body.
package redirect

import "net/http"

// Status is the redirect status for a request with method.
func Status(method string, permanent bool) int {
	switch {
	case method != http.MethodGet && method != http.MethodHead:
		return http.StatusTemporaryRedirect
	case permanent:
		return http.StatusMovedPermanently
	default:
		return http.StatusFound
	}
}
