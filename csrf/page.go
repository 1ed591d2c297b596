package csrf

import (
	"errors"
	"net/http"
)

// The refusal page is static: it names the kind of failure from a fixed
// list and echoes nothing from the request (no path, no header, no token),
// so it cannot be turned into a reflection or an oracle.

const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Request refused</title></head>
<body><h1>Request refused (403)</h1>
`

const pageTail = `<p>Nothing was changed.</p>
<p><a href="/" id="home">← Back to the site's home page</a></p>
</body></html>
`

const crossOriginText = `<p>This request was sent to this site from another web site, so it was not
carried out. If you meant to do this, open this site directly, reload the
page and send the form again.</p>
`

const tokenText = `<p>The form you sent has expired or does not belong to your current session
(for example after you logged in or out in another tab, or your session
ended). Go back, reload the page and send the form again.</p>
`

func writeDenyPage(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	body := tokenText
	if errors.Is(err, ErrCrossOrigin) {
		body = crossOriginText
	}
	_, _ = w.Write([]byte(pageHead + body + pageTail))
}
