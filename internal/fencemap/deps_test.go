package fencemap_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetworkNoCommandLine keeps fencemap a drawing library: no network
// code, and of this module only the fence model.
func TestNoNetworkNoCommandLine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	const mod = "github.com/mapsdevice/mapsdevice/"
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || dep == "net" ||
			(strings.HasPrefix(dep, mod) && dep != mod+"internal/fencemap" && dep != mod+"internal/geofence") {
			t.Errorf("fencemap depends on %s", dep)
		}
	}
}
