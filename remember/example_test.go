package remember_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sessiond/sessiond/remember"
)

// A login handler issues a key when the user ticks "remember me"; a
// middleware tries auto-login for requests without an authenticated
// session. OnReuse revokes all of the user's sessions when a stolen key is
// detected; with package session that is sessions.RevokeUserSessions.
func Example() {
	m, err := remember.New(remember.Config{
		Store: remember.NewMemoryStore(), // or sqlstore.New(db, sqlstore.Config{...})
		OnReuse: func(ctx context.Context, user string) error {
			slog.WarnContext(ctx, "auto-login key reused: revoking all sessions of the user")
			return nil // _, err := sessions.RevokeUserSessions(ctx, user, ""); return err
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, regenerate the session, set the user ...
		if r.PostFormValue("remember") == "on" {
			if err := m.Issue(w, r, "alice"); err != nil {
				http.Error(w, "could not remember you", http.StatusServiceUnavailable)
				return
			}
		}
	})
	autoLogin := func(w http.ResponseWriter, r *http.Request) {
		user, err := m.Authenticate(w, r)
		switch {
		case err == nil:
			_ = user // regenerate the session ID and log user in
		case errors.Is(err, remember.ErrNoCookie), errors.Is(err, remember.ErrNotFound),
			errors.Is(err, remember.ErrInvalid), errors.Is(err, remember.ErrRaced):
			// anonymous; show the login page when needed
		case errors.Is(err, remember.ErrReused):
			// theft: keys and sessions are revoked; ask for the password
		default:
			http.Error(w, "try again shortly", http.StatusServiceUnavailable)
		}
	}
	mux.HandleFunc("GET /", autoLogin)
	fmt.Println("ready")
	// Output: ready
}
