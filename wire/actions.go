package wire

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The actions a backend may send in X-Session-Action. A login names its
// user: use Login.
const (
	ActionLogout        = "logout"         // end the session (server-side)
	ActionRegenerate    = "regenerate"     // give the session new IDs, keeping its data
	ActionRequireSecure = "require-secure" // redirect this request to HTTPS
)

// Login is the action that signs user in: "login user=ID". The gateway
// regenerates the session's IDs before it sets the user.
func Login(user string) string { return "login user=" + user }

// MaxUserLen bounds user IDs (bytes).
const MaxUserLen = 256

// ValidUser reports whether u may name a user: valid UTF-8, printable, no
// spaces or separators (',' ';'), at most MaxUserLen bytes.
func ValidUser(u string) bool {
	if u == "" || len(u) > MaxUserLen || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if r < 0x21 || r == 0x7f || r == ',' || r == ';' || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Actions is what a backend asked for in its X-Session-Action fields.
type Actions struct {
	Login         string // the user of a "login user=ID" action, if any
	Logout        bool
	Regenerate    bool
	RequireSecure bool
}

var (
	// ErrActionRefused wraps the errors of ParseActions for a field that
	// was dropped whole: a malformed login, a login naming a second user,
	// an action list with arguments.
	ErrActionRefused = errors.New("wire: X-Session-Action refused")
	// ErrUnknownAction wraps the errors of ParseActions for an action it
	// does not know (skipped; the rest of its list applies).
	ErrUnknownAction = errors.New("wire: unknown X-Session-Action")
)

// ParseActions reads the X-Session-Action field values of one response.
// A login is judged whole: "login user=ID" takes everything after "user="
// as the ID, so "login user=a,b" names the user "a,b" (refused, see
// ValidUser), never "a". Other actions take no argument and may be listed
// with commas ("regenerate, require-secure"); a list that mixes in a login
// or an argument is refused as a whole. Fields naming more than one user
// sign nobody in. Verbs are case-insensitive.
//
// ParseActions returns what it accepted, and an error joining one error
// per problem, each wrapping ErrActionRefused or ErrUnknownAction.
func ParseActions(fields []string) (Actions, error) {
	var a Actions
	var errs []error
	logins := map[string]bool{}
	for _, line := range fields {
		line = strings.TrimSpace(line)
		verb, arg, _ := strings.Cut(line, " ")
		if strings.EqualFold(verb, "login") {
			user, ok := strings.CutPrefix(strings.TrimSpace(arg), "user=")
			if !ok || !ValidUser(user) {
				errs = append(errs, fmt.Errorf("%w: want exactly \"login user=ID\" with a valid ID (printable UTF-8, no spaces, commas or semicolons, at most %d bytes)",
					ErrActionRefused, MaxUserLen))
				continue
			}
			a.Login = user
			logins[user] = true
			continue
		}
		errs = append(errs, a.parseList(line)...)
	}
	if len(logins) > 1 {
		errs = append(errs, fmt.Errorf("%w: the response names more than one user (%d)", ErrActionRefused, len(logins)))
		a.Login = ""
	}
	return a, errors.Join(errs...)
}

// parseList reads a field of argument-free actions.
func (a *Actions) parseList(line string) []error {
	var verbs []string
	for v := range strings.SplitSeq(line, ",") {
		v = strings.TrimSpace(v)
		if strings.ContainsAny(v, " \t=") {
			return []error{fmt.Errorf("%w: an action list holds only argument-free actions (send a login on its own line)", ErrActionRefused)}
		}
		if v != "" {
			verbs = append(verbs, strings.ToLower(v))
		}
	}
	var errs []error
	for _, v := range verbs {
		switch v {
		case ActionLogout:
			a.Logout = true
		case ActionRegenerate:
			a.Regenerate = true
		case ActionRequireSecure:
			a.RequireSecure = true
		default:
			errs = append(errs, fmt.Errorf("%w: %q", ErrUnknownAction, v))
		}
	}
	return errs
}
