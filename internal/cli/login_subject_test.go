package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// TestLoginSaysWhatItSignsInTo: the device_code event and the plain text
// name the app, the tenant and the access, with the phishing warning.
func TestLoginSaysWhatItSignsInTo(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{Interval: time.Second})
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file")

	p := e.start("login", "--json", "--app-name", "Contoso Sensors")
	ev := p.event(t)
	scopes, _ := ev["scopes"].([]any)
	if ev["app_name"] != "Contoso Sensors" || ev["client_id"] != srv.ClientID() || ev["tenant"] != srv.TenantID() ||
		len(scopes) != 1 || scopes[0] != emulator.MapsScope || !strings.HasPrefix(ev["warning"].(string), "Only continue if you started this sign-in") {
		t.Errorf("device_code event %v", ev)
	}
	srv.Approve(ev["user_code"].(string), "")
	if final := p.event(t); final["event"] != "signed_in" {
		t.Fatalf("login: %v", final)
	}

	p = e.start("login", "--plain")
	stderr := ""
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr, "cancel.") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		stderr = p.stderr.String()
	}
	for _, want := range []string{"This signs in to mapsdevice (client id " + srv.ClientID() + "), tenant " + srv.TenantID() + ", for Azure Maps (user_impersonation).",
		"Only continue if you started this sign-in on this device. If a website, a message or a person gave you this code, cancel."} {
		if !strings.Contains(stderr, want) {
			t.Errorf("plain output lacks %q:\n%s", want, stderr)
		}
	}
}
