package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessiond/sessiond/gateway/admin"
)

const sessionsUsage = `sessions list USER | show USER REF | revoke USER REF | revoke-user USER
        [--realm REALM] [--json] [--admin HOST:PORT] [--token-file FILE]`

// runSessions lists and revokes a user's sessions through a running
// gateway's admin API. Sessions are named by their Ref, never by ID.
func runSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sessions", sessionsUsage, stderr)
	client := adminFlags(fs)
	realm := fs.String("realm", "", "the site's realm (needed when the gateway serves several; see GET /api/realms)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if len(args) == 0 {
		fs.Usage()
		return errUsage
	}
	sub, rest := args[0], args[1:]
	if sub == "-h" || sub == "-help" || sub == "--help" {
		return parse(fs, []string{"-h"})
	}
	// Flags may come before or after the arguments.
	var pos []string
	for {
		if err := parse(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	want := map[string]int{"list": 1, "show": 2, "revoke": 2, "revoke-user": 1}
	n, ok := want[sub]
	if !ok || len(pos) != n {
		fs.Usage()
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	if *realm == "" {
		if *realm, err = onlyRealm(ctx, c); err != nil {
			return err
		}
	}
	user := pos[0]
	path := "/api/realms/" + url.PathEscape(*realm) + "/users/" + url.PathEscape(user) + "/sessions"
	switch sub {
	case "list", "show":
		var l admin.SessionList
		if err := c.do(ctx, http.MethodGet, path, &l); err != nil {
			return err
		}
		if sub == "show" {
			var found []admin.Session
			for _, s := range l.Sessions {
				if s.Ref == pos[1] {
					found = append(found, s)
				}
			}
			if len(found) == 0 {
				return fmt.Errorf("user %s has no session %s", user, pos[1])
			}
			l.Sessions = found
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if sub == "show" {
				return enc.Encode(l.Sessions[0])
			}
			return enc.Encode(l)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REF\tCREATED\tLAST SEEN\tIP\tAREA\tUSER AGENT")
		for _, s := range l.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Ref, s.Created.Local().Format(time.DateTime),
				s.LastSeen.Local().Format(time.DateTime), dashIfEmpty(s.IP), dashIfEmpty(s.Area), dashIfEmpty(s.UserAgent))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if sub == "list" {
			fmt.Fprintf(stdout, "%d sessions of %s\n", len(l.Sessions), user)
		}
		return nil
	case "revoke":
		path += "/" + url.PathEscape(pos[1])
	}
	var res map[string]any
	if err := c.do(ctx, http.MethodDelete, path, &res); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "revoked: %v\n", res["revoked"])
	return nil
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// onlyRealm asks the gateway for its realms and returns the one it
// serves; a gateway with several needs --realm.
func onlyRealm(ctx context.Context, c *adminClient) (string, error) {
	var out struct{ Realms map[string][]string }
	if err := c.do(ctx, http.MethodGet, "/api/realms", &out); err != nil {
		return "", err
	}
	realms := slices.Sorted(maps.Keys(out.Realms))
	if len(realms) != 1 {
		return "", fmt.Errorf("the gateway serves %d realms (%s): name one with --realm", len(realms), strings.Join(realms, ", "))
	}
	return realms[0], nil
}
