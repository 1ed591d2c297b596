// Package testbrowser starts headless Chromium for end-to-end tests
// (through chromedp), with the flags every browser test of this module
// uses: a fresh profile, no network chatter, host names mapped to
// loopback. Only tests import it.
//
// Without /usr/bin/chromium (Debian's "chromium" package) tests skip on a
// developer's machine and fail under CI=true (internal/testenv).
package testbrowser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/internal/testkit"
)

// Options configures Launch.
type Options struct {
	// HostRules maps host names to loopback, e.g. "MAP *.localhost 127.0.0.1".
	HostRules string
	// Width and Height of the window; default 1024×768.
	Width, Height int
	// Timeout bounds the whole browser session; default 90 s.
	Timeout time.Duration
}

// Browser is a running Chromium. Its contexts are chromedp contexts.
type Browser struct {
	// Tab is the first tab of the default browser context.
	Tab context.Context
	out *testkit.Buffer
}

// Launch starts Chromium for t; it is stopped when t ends.
func Launch(t *testing.T, o Options) *Browser {
	t.Helper()
	chromium := testenv.LookPath(t, "chromium")
	if o.Width == 0 {
		o.Width, o.Height = 1024, 768
	}
	if o.Timeout == 0 {
		o.Timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	t.Cleanup(cancel)
	profile := t.TempDir() // registered before the browser cleanups: removed after the browser exits
	out := &testkit.Buffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-proxy-server", true), // an http_proxy in the environment must not see test hosts
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.CombinedOutput(out),
	}
	if o.HostRules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", o.HostRules))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc) // waits for the browser process to exit
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // start the browser now
		t.Fatalf("starting chromium: %v\n%s", err, Tail(Output(out.String()), 3000))
	}
	return &Browser{Tab: tab, out: out}
}

// NewIncognito opens a tab in a new browser context: its own cookies, as
// another browser would have.
func (b *Browser) NewIncognito(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Tab, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	return ctx
}

// Output is the browser's recent output, for a failure message.
func (b *Browser) Output() string { return Tail(Output(b.out.String()), 3000) }

// Output drops the D-Bus complaints of a container without a bus.
func Output(s string) string {
	var keep []string
	for line := range strings.Lines(s) {
		if !strings.Contains(line, "dbus/") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ArtifactDir is where a test saves screenshots: $SESSIOND_ARTIFACTS/<test>
// if set, else a temporary directory kept after the test (its path is
// logged). Never inside the source tree.
func ArtifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SESSIOND_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "sessiond-artifacts")
	}
	dir := filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
	os.RemoveAll(dir) // the last run's screenshots
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}
