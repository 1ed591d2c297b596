package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// adminClient talks to a running gateway's admin listener.
type adminClient struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// adminFlags adds --admin and --token-file to fs; call the returned
// function after parsing.
func adminFlags(fs *flag.FlagSet) func() (*adminClient, error) {
	addr := fs.String("admin", envOr("SESSIOND_ADMIN_ADDR", "127.0.0.1:9090"), "the gateway's admin listener, host:port ($SESSIOND_ADMIN_ADDR)")
	tokenFile := fs.String("token-file", "", "file holding the admin token (default: $SESSIOND_ADMIN_TOKEN)")
	return func() (*adminClient, error) {
		tok := os.Getenv("SESSIOND_ADMIN_TOKEN")
		if *tokenFile != "" {
			b, err := os.ReadFile(*tokenFile)
			if err != nil {
				return nil, fmt.Errorf("admin token: %w", err)
			}
			tok = strings.TrimSpace(string(b))
		}
		if tok == "" {
			return nil, errors.New("no admin token: use --token-file or set SESSIOND_ADMIN_TOKEN")
		}
		base := *addr
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return &adminClient{base: strings.TrimSuffix(base, "/"), token: tok,
			http: &http.Client{Timeout: 30 * time.Second}}, nil
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// do sends a request and decodes a JSON answer into out (if not nil); a
// non-2xx answer is an error carrying the server's message.
func (c *adminClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("admin API: %s (%d)", e.Error, resp.StatusCode)
		}
		return fmt.Errorf("admin API: %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("admin API: %w", err)
		}
	}
	return nil
}

func runReload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reload", "reload [--admin HOST:PORT] [--token-file FILE]   (or send SIGHUP to serve)", stderr)
	client := adminFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/reload", nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "sessiond: configuration reloaded")
	return nil
}
