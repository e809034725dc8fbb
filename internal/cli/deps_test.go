package cli_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTestOnlyDependenciesStayOut keeps browser drivers and QR decoders,
// which only tests use, out of the shipped binary.
func TestTestOnlyDependenciesStayOut(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/mapsdevice").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, banned := range []string{"github.com/chromedp/", "github.com/makiuchi-d/gozxing", "testing"} {
		for _, pkg := range strings.Fields(string(out)) {
			if pkg == banned || strings.HasPrefix(pkg, banned) {
				t.Errorf("the binary depends on %s", pkg)
			}
		}
	}
}
