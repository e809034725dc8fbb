package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestErrorCodesDocumented: every --json error code the CLI can write is
// in docs/json.md's table, with its exit code; the README lists exit 3.
func TestErrorCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	codes := map[string]bool{}
	literal := regexp.MustCompile(`errCode: +"([a-z_]+)"|return "([a-z_]+)", (?:fix|"[^"]*")`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			codes[m[1]+m[2]] = true
		}
	}
	for _, want := range []string{"refresh_blocked", "conditional_access", "mfa_required"} {
		if !codes[want] {
			t.Fatalf("the scan missed %s: found %v", want, codes)
		}
	}
	for code := range codes {
		if !regexp.MustCompile("(?m)^\\| `" + code + "` \\| \\d+ \\|").Match(doc) {
			t.Errorf("docs/json.md has no row for error code %q", code)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "| 3 | an administrator must act") {
		t.Error("the README's exit code table lacks exit 3")
	}
}
