package redirect

import (
	"net/http"
	"testing"
)

func TestStatus(t *testing.T) {
	cases := []struct {
		method    string
		permanent bool
		want      int
	}{
		{http.MethodGet, false, http.StatusFound},
		{http.MethodHead, false, http.StatusFound},
		{http.MethodGet, true, http.StatusMovedPermanently},
		{http.MethodPost, false, http.StatusTemporaryRedirect},
		{http.MethodPost, true, http.StatusTemporaryRedirect},
		{http.MethodPut, false, http.StatusTemporaryRedirect},
		{http.MethodOptions, false, http.StatusTemporaryRedirect},
	}
	for _, tc := range cases {
		if got := Status(tc.method, tc.permanent); got != tc.want {
			t.Errorf("Status(%s, permanent %v) = %d, want %d", tc.method, tc.permanent, got, tc.want)
		}
	}
}
