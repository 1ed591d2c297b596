package gateway

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every audit event the code emits is documented in docs/audit.md, the
// audit log's schema. Add a row there when you add an event.
func TestAuditEventsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	emitted := []*regexp.Regexp{
		regexp.MustCompile(`Type:\s*"([a-z_]+(?:\.[a-z_]+)*)"`),
		regexp.MustCompile(`\baudit\(r, "([a-z_]+\.[a-z_]+)"`),
		regexp.MustCompile(`\bs\.end\("([a-z_]+\.[a-z_]+)"\)`),
		regexp.MustCompile(`adminAudit\(r, "([a-z_]+)"`),
		regexp.MustCompile(`\bEvent\w*\s*=\s*"([a-z_]+\.[a-z_]+)"`), // a login method's Vouches events
	}
	found := 0
	for _, dir := range []string{".", "../session", "../csrf", "../remember", "login/form", "login/oidc"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, re := range emitted {
				for _, m := range re.FindAllSubmatch(src, -1) {
					typ := string(m[1])
					if i == 3 {
						typ = "admin." + typ
					}
					found++
					if !strings.Contains(string(doc), "`"+typ+"`") {
						t.Errorf("%s emits audit event %q, which docs/audit.md does not document", f, typ)
					}
				}
			}
		}
	}
	if found < 20 {
		t.Fatalf("found only %d audit events in the code: the patterns no longer match how events are emitted", found)
	}
}
