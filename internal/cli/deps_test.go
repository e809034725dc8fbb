package cli_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTestOnlyDependenciesStayOut keeps browser drivers and QR decoders,
// which only tests use, out of the shipped binary; and the Azure SDK,
// whose Key Vault client only tests use to check the emulator against
// (the binary reads Key Vault with internal/keyvault, half a megabyte
// smaller).
func TestTestOnlyDependenciesStayOut(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/mapsdevice").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, banned := range []string{"github.com/chromedp/", "github.com/makiuchi-d/gozxing", "go.uber.org/goleak", "testing",
		"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets", "github.com/Azure/azure-sdk-for-go/sdk/azcore",
		"github.com/Azure/azure-sdk-for-go/sdk/azidentity"} {
		for _, pkg := range strings.Fields(string(out)) {
			if pkg == banned || strings.HasPrefix(pkg, banned) {
				t.Errorf("the binary depends on %s", pkg)
			}
		}
	}
}

// TestDependenciesPointOneWay keeps the layers apart: the libraries never
// reach up to the command line, nor into the emulator, which only tests,
// demo and the emulator command import.
func TestDependenciesPointOneWay(t *testing.T) {
	const mod = "github.com/mapsdevice/mapsdevice/"
	banned := map[string][]string{
		"internal/auth":     {"internal/cli", "internal/ui", "internal/azmaps", "internal/report", "internal/keyvault", "emulator"},
		"internal/keyvault": {"internal/"},
		"internal/azmaps":   {"internal/cli", "internal/ui", "internal/auth", "internal/report", "emulator"},
		"internal/report":   {"internal/cli", "internal/ui", "emulator"},
		"internal/ui":       {"internal/cli", "internal/azmaps", "internal/report", "emulator"},
		"internal/geofence": {"internal/"},
	}
	for pkg, not := range banned {
		out, err := exec.Command("go", "list", "-deps", "../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v: %s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range not {
				if strings.HasPrefix(dep, mod+b) && dep != mod+pkg {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
