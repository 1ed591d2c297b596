package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/store/cookie"
)

// runCookie is `sessiond cookie decode`: open a cookie-store session with
// the key file, to see what a browser carries. It shows the
// session's Ref, user and data — never a key. Revocations are not consulted:
// a decoded cookie may have been revoked server-side.
func runCookie(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cookie", "cookie decode --keys FILE --realm REALM [--name COOKIE] [--json] [VALUE]   (VALUE from stdin if absent)", stderr)
	keys := fs.String("keys", "", "the store's keys file (store.cookie.keys_file) (required)")
	realm := fs.String("realm", "", "the site's realm: its realm key, or by default its name (required)")
	name := fs.String("name", "__Host-sid", "the cookie's name (sealed into it: a cookie opens only under its own name)")
	asJSON := fs.Bool("json", false, "print JSON")
	if len(args) == 0 || args[0] != "decode" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return parse(fs, []string{"-h"})
		}
		fs.Usage()
		return errUsage
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *keys == "" || *realm == "" || fs.NArg() > 1 {
		fs.Usage()
		return errUsage
	}
	value := fs.Arg(0)
	if fs.NArg() == 0 {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		value = line
	}
	value = strings.TrimSpace(value)
	// "name=value" as copied from a Cookie header is accepted too.
	if v, ok := strings.CutPrefix(value, *name+"="); ok {
		value = v
	}
	ring, err := cookie.ReadKeyFile(*keys)
	if err != nil {
		return err
	}
	// Why a cookie is refused is logged at debug level: show it.
	codec, err := cookie.New(cookie.Config{Keys: ring,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		return err
	}
	rec, err := codec.Decode(ctx, *name, *realm, value)
	if err != nil {
		return fmt.Errorf("the cookie does not open with these keys, name and realm: %w", err)
	}
	out := struct {
		Ref      string            `json:"ref"`
		Realm    string            `json:"realm"`
		User     string            `json:"user,omitempty"`
		Created  time.Time         `json:"created"`
		LastSeen time.Time         `json:"last_seen"`
		Saved    time.Time         `json:"saved"`
		Expires  time.Time         `json:"expires,omitzero"`
		Data     map[string]string `json:"data"`
	}{rec.Ref, rec.Realm, rec.User, rec.Created, rec.LastSeen, rec.Saved, rec.Expires, rec.Data}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "ref:       %s\nrealm:     %s\nuser:      %s\ncreated:   %s\nlast seen: %s\nsaved:     %s\n",
		out.Ref, out.Realm, dashIfEmpty(out.User), out.Created.Format(time.RFC3339), out.LastSeen.Format(time.RFC3339), out.Saved.Format(time.RFC3339))
	if !out.Expires.IsZero() {
		fmt.Fprintf(stdout, "expires:   %s\n", out.Expires.Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "data:      %d keys\n", len(out.Data))
	for _, k := range sortedKeys(out.Data) {
		fmt.Fprintf(stdout, "  %s = %q\n", k, out.Data[k])
	}
	return nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
