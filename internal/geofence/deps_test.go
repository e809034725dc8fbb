package geofence_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetwork keeps geofence a pure library: the on-device check must
// work with no network code linked in, and the packages that talk to
// services depend on it, never the other way round.
func TestNoNetwork(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || dep == "net" || (strings.HasPrefix(dep, "github.com/mapsdevice/mapsdevice/") && dep != "github.com/mapsdevice/mapsdevice/internal/geofence") {
			t.Errorf("geofence depends on %s", dep)
		}
	}
}
