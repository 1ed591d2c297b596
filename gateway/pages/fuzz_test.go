package pages

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pagesWith fills every text field of every page with s.
func pagesWith(s string) []Page {
	t := time.Unix(1_700_000_000, 0)
	return []Page{
		LoginPage{Site: s, Action: "/login", CSRF: CSRF{Field: "csrf_token", Token: s}, Next: s, User: s, Error: s, Why: s,
			Password: true, Remember: true, Providers: []Provider{{ID: s, Name: s, URL: "/start?next=" + s}}},
		RefusedPage{Site: s, User: s, Provider: s, Reason: s, RetryURL: "/login?x=" + s},
		ErrorPage{Site: s, Title: s, Message: s, LinkURL: "/" + s, LinkText: s},
		SessionsPage{Site: s, User: s, Zone: s, CSRF: CSRF{Field: "csrf_token", Token: s}, Error: s, Reauth: true, Sessions: []SessionRow{
			{Ref: s, Current: true, Created: t, LastSeen: t, IP: s, Area: s, UserAgent: s, Browser: s},
			{Ref: s, Created: t, LastSeen: t, IP: s, Area: s, UserAgent: s, Browser: s}}},
	}
}

// FuzzRenderEscapes: whatever the data, every page has exactly the
// markup it has for harmless data: no tag, attribute or quote of the
// data's survives as markup.
func FuzzRenderEscapes(f *testing.F) {
	for _, s := range []string{"x", hostile, `</textarea><script>`, `' onmouseover='x`, "javascript:alert(1)", "\x00<\u2028>", `{{.Site}}`} {
		f.Add(s)
	}
	shape := func(p Page) (int, int) {
		w := httptest.NewRecorder()
		Default().Render(w, 200, p)
		b := w.Body.String()
		return strings.Count(b, "<"), strings.Count(b, `"`)
	}
	var want [][2]int
	for _, p := range pagesWith("x") {
		lt, q := shape(p)
		want = append(want, [2]int{lt, q})
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, p := range pagesWith("x" + s) {
			if lt, q := shape(p); lt != want[i][0] || q != want[i][1] {
				t.Errorf("%s with %q: %d '<' and %d '\"', want %d and %d", p.File(), s, lt, q, want[i][0], want[i][1])
			}
		}
	})
}
