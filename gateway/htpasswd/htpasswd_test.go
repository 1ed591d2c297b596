package htpasswd

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func quietLogger(buf *bytes.Buffer) *slog.Logger {
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	return slog.New(slog.NewTextHandler(buf, nil))
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

// fixture is a bcrypt user at cost 5, so a file's usual cost (and with it
// the dummy comparison of every Verify) stays cheap in tests.
const fixture = "fixture:" + apacheBcrypt + "\n"

func openFile(t *testing.T, data string, mods ...func(*Config)) (*File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, data)
	cfg := Config{Path: path, Logger: quietLogger(nil), CheckInterval: -1}
	for _, m := range mods {
		m(&cfg)
	}
	f, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

func TestVerify(t *testing.T) {
	f, _ := openFile(t, strings.Join([]string{
		"y:" + apacheBcrypt, // "pw", from Apache's htpasswd -B
		"a:$2a" + apacheBcrypt[3:],
		"b:$2b" + apacheBcrypt[3:],
		"m:" + apacheAPR1,
		"s:" + apacheSHA,
	}, "\n"))
	cases := []struct {
		name, user, password string
		ok, legacy           bool
	}{
		{"bcrypt 2y", "y", "pw", true, false},
		{"bcrypt 2a", "a", "pw", true, false},
		{"bcrypt 2b", "b", "pw", true, false},
		{"apr1", "m", "pw", true, true},
		{"sha", "s", "pw", true, true},
		{"bcrypt wrong", "y", "pW", false, false},
		{"apr1 wrong", "m", "pw ", false, false},
		{"sha wrong", "s", "", false, false},
		{"unknown user", "nobody", "pw", false, false},
		{"empty user", "", "pw", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, legacy := f.Verify(tc.user, tc.password)
			if ok != tc.ok || legacy != tc.legacy {
				t.Fatalf("Verify(%q, %q) = %v, %v; want %v, %v", tc.user, tc.password, ok, legacy, tc.ok, tc.legacy)
			}
		})
	}
}

// TestApacheToolLines verifies lines made right now by Apache's htpasswd
// tool, when it is installed.
func TestApacheToolLines(t *testing.T) {
	tool, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("Apache htpasswd tool not installed")
	}
	for _, flag := range []string{"-B", "-m", "-s"} {
		t.Run(flag, func(t *testing.T) {
			out, err := exec.Command(tool, "-nb"+flag[1:], "carol", "carol's pass").Output()
			if err != nil {
				t.Fatal(err)
			}
			f, _ := openFile(t, string(out))
			if ok, _ := f.Verify("carol", "carol's pass"); !ok {
				t.Fatalf("line from htpasswd %s did not verify", flag)
			}
			if ok, _ := f.Verify("carol", "carol's pasS"); ok {
				t.Fatal("wrong password verified")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	writeFile(t, bad, "ok:"+apacheSHA+"\nbroken\n")
	cases := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"bad line", bad, bad + ":2: no ':'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(Config{Path: tc.path, Logger: quietLogger(nil)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestLegacyWarnings(t *testing.T) {
	var logs bytes.Buffer
	f, path := openFile(t, "y:"+apacheBcrypt+"\nm:"+apacheAPR1+"\ns:"+apacheSHA+"\n", func(c *Config) { c.Logger = quietLogger(&logs) })
	w := f.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], path+":2: user \"m\" has a apr1 (MD5) hash") ||
		!strings.Contains(w[1], ":3: user \"s\"") || !strings.Contains(w[1], "bcrypt") {
		t.Fatalf("Warnings = %q", w)
	}
	if !strings.Contains(logs.String(), "legacy password hash") {
		t.Fatalf("warnings not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "9RJIaeD9") || strings.Contains(logs.String(), "GpHWL3") {
		t.Fatal("a hash reached the log")
	}
}

func TestReload(t *testing.T) {
	cases := []struct {
		name      string
		newData   string
		wantAlice bool
		wantBob   bool
		wantErr   bool
	}{
		{"user added", fixture + "alice:" + apacheSHA + "\nbob:" + apacheSHA + "\n", true, true, false},
		{"user removed", fixture + "bob:" + apacheSHA + "\n", false, true, false},
		{"broken file keeps old users", fixture + "alice:" + apacheSHA + "\nbob\n", true, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			f, path := openFile(t, fixture+"alice:"+apacheSHA+"\n", func(c *Config) { c.Logger = quietLogger(&logs) })
			// Same size and mtime as before must not hide the change:
			// write elsewhere and rename (a new inode), as editors do.
			tmp := path + ".new"
			writeFile(t, tmp, tc.newData)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			alice, _ := f.Verify("alice", "pw")
			bob, _ := f.Verify("bob", "pw")
			if alice != tc.wantAlice || bob != tc.wantBob {
				t.Fatalf("alice=%v bob=%v; want %v %v", alice, bob, tc.wantAlice, tc.wantBob)
			}
			if got := strings.Contains(logs.String(), "reload failed"); got != tc.wantErr {
				t.Fatalf("reload failure logged = %v, want %v; logs:\n%s", got, tc.wantErr, logs.String())
			}
		})
	}
}

func TestCheckIntervalThrottlesStat(t *testing.T) {
	f, path := openFile(t, fixture+"alice:"+apacheSHA+"\n", func(c *Config) { c.CheckInterval = time.Hour })
	writeFile(t, path, fixture+"bob:"+apacheSHA+"\n")
	if ok, _ := f.Verify("bob", "pw"); ok {
		t.Fatal("file re-read before the check interval")
	}
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.Verify("bob", "pw"); !ok {
		t.Fatal("explicit Reload did not pick up the change")
	}
}

func TestUpgrade(t *testing.T) {
	cases := []struct {
		name     string
		user     string
		password string
		wantErr  string
		upgraded bool
	}{
		{"apr1", "m", "pw", "", true},
		{"sha", "s", "pw", "", true},
		{"already bcrypt", "y", "pw", "", false},
		{"wrong password", "m", "nope", "does not match", false},
		{"unknown user", "zed", "pw", "no user", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			content := "# staff\ny:" + apacheBcrypt + "\nm:" + apacheAPR1 + "\ns:" + apacheSHA + "\n"
			f, path := openFile(t, content)
			err := f.Upgrade(tc.user, tc.password)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Upgrade error = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			if changed := string(data) != content; changed != tc.upgraded {
				t.Fatalf("file changed = %v, want %v:\n%s", changed, tc.upgraded, data)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode after upgrade = %v, want 0640", fi.Mode().Perm())
			}
			if !tc.upgraded {
				return
			}
			if !strings.HasPrefix(string(data), "# staff\ny:"+apacheBcrypt+"\n") {
				t.Fatalf("other lines not kept:\n%s", data)
			}
			ok, legacy := f.Verify(tc.user, tc.password)
			if !ok || legacy {
				t.Fatalf("after upgrade Verify = %v, %v; want true, false", ok, legacy)
			}
			if len(f.Warnings()) != 1 {
				t.Fatalf("Warnings after upgrade = %q", f.Warnings())
			}
			// The dummy compare uses the file's usual cost (5, from Apache's line).
			e := f.table.Load().users[tc.user]
			if c, _ := bcrypt.Cost([]byte(e.hash)); c != 5 {
				t.Fatalf("upgraded with cost %d, want the file's usual 5", c)
			}
		})
	}
}

func TestUpgradeReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write to read-only directories")
	}
	f, path := openFile(t, fixture+"m:"+apacheAPR1+"\n")
	dir := filepath.Dir(path)
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if err := f.Upgrade("m", "pw"); err == nil {
		t.Fatal("Upgrade in a read-only directory succeeded")
	}
	if ok, legacy := f.Verify("m", "pw"); !ok || !legacy {
		t.Fatal("a failed upgrade changed the loaded users")
	}
}

func TestAddAndRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	steps := []struct {
		name    string
		do      func() error
		wantErr string
		check   map[string]string // user -> password that must verify ("" = absent)
	}{
		{"create", func() error { return Add(path, "alice", "alice-demo", bcrypt.MinCost) }, "",
			map[string]string{"alice": "alice-demo"}},
		{"second user", func() error { return Add(path, "admin", "admin-demo", bcrypt.MinCost) }, "",
			map[string]string{"alice": "alice-demo", "admin": "admin-demo"}},
		{"replace", func() error { return Add(path, "alice", "new", bcrypt.MinCost) }, "",
			map[string]string{"alice": "new", "admin": "admin-demo"}},
		{"remove", func() error { return Remove(path, "admin") }, "",
			map[string]string{"alice": "new", "admin": ""}},
		{"remove absent", func() error { return Remove(path, "admin") }, "no user \"admin\"", nil},
		{"colon in user", func() error { return Add(path, "a:b", "x", bcrypt.MinCost) }, "contains ':'", nil},
		{"newline in user", func() error { return Add(path, "a\nb", "x", bcrypt.MinCost) }, "control character", nil},
		{"empty password", func() error { return Add(path, "x", "", bcrypt.MinCost) }, "empty password", nil},
		{"long password", func() error { return Add(path, "x", strings.Repeat("p", 73), bcrypt.MinCost) }, "longer than 72", nil},
		{"bad cost", func() error { return Add(path, "x", "p", 40) }, "cost 40", nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.do()
			if s.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), s.wantErr) {
					t.Fatalf("error = %v, want %q", err, s.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("file mode = %v (%v), want 0600", fi.Mode(), err)
			}
			f, err := Open(Config{Path: path, Logger: quietLogger(nil)})
			if err != nil {
				t.Fatal(err)
			}
			for u, pw := range s.check {
				ok, _ := f.Verify(u, pw)
				if pw == "" {
					ok, _ = f.Verify(u, "admin-demo")
					if ok {
						t.Fatalf("removed user %q still verifies", u)
					}
					continue
				}
				if !ok {
					t.Fatalf("user %q does not verify with %q", u, pw)
				}
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestAddRefusesBrokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "broken line\n")
	err := Add(path, "alice", "pw", bcrypt.MinCost)
	if err == nil || !strings.Contains(err.Error(), "refusing to rewrite") {
		t.Fatalf("Add on a broken file = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "broken line\n" {
		t.Fatal("broken file was changed")
	}
}

func TestAddToMissingDirectory(t *testing.T) {
	err := Add(filepath.Join(t.TempDir(), "no", "users"), "a", "pw", bcrypt.MinCost)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

// TestVerifyTiming checks that an unknown user and a legacy hash cost about
// as much as a wrong bcrypt password: the dummy comparison runs. It compares
// the fastest of several runs, with a wide margin, so it is not flaky.
func TestVerifyTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), 8)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := openFile(t, "known:"+string(h)+"\nold:"+apacheAPR1+"\n") // usual cost: 8
	timeOf := func(user string) time.Duration {
		start := time.Now()
		f.Verify(user, "wrong")
		return time.Since(start)
	}
	cases := []struct{ name, user string }{
		{"unknown user", "nobody"},
		{"legacy hash", "old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Interleave the two measurements so load on a shared machine
			// hits both alike; compare the fastest of each.
			base, d := time.Hour, time.Hour
			for range 5 {
				base = min(base, timeOf("known"))
				d = min(d, timeOf(tc.user))
			}
			if d < base/2 {
				t.Fatalf("Verify(%s) took %v, a known bcrypt user %v: timing reveals it", tc.user, d, base)
			}
		})
	}
}

func TestConcurrentVerifyAndReload(t *testing.T) {
	f, path := openFile(t, fixture+"alice:"+apacheSHA+"\n")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 50 {
				if ok, _ := f.Verify("alice", "pw"); !ok {
					t.Error("alice lost during reloads")
					return
				}
			}
		})
		wg.Go(func() {
			for j := range 5 {
				tmp := filepath.Join(filepath.Dir(path), "w"+string(rune('a'+i))+string(rune('a'+j)))
				os.WriteFile(tmp, []byte(fixture+"alice:"+apacheSHA+"\n# "+tmp+"\n"), 0o600)
				os.Rename(tmp, path)
			}
		})
	}
	wg.Wait()
}
