package cli_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// lastEvent is the last JSON line of a command's stdout.
func lastEvent(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ev); err != nil {
		t.Fatalf("last line is not a JSON event: %q", out)
	}
	return ev
}

// wantAdminMessage checks what an administrator is given, and that the
// user is not sent round to a login that would be refused again.
func wantAdminMessage(t *testing.T, srv *emulator.Server, msg, setting string) {
	t.Helper()
	for _, want := range []string{"; an administrator of the tenant must act.\n", srv.ClientID(), srv.TenantID(),
		"Correlation ID:  ", "Timestamp:       20", setting} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "mapsdevice login") {
		t.Errorf("message sends the user to login, which cannot help:\n%s", msg)
	}
}

// TestPolicyRefusesLogin: each policy switch that refuses a device code
// sign-in, through the real binary; an administrator must act (exit 3),
// except for a single-tenant app, fixed on the device.
func TestPolicyRefusesLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  emulator.Policy
		code    string
		setting string
	}{
		{"device code blocked for the user", emulator.Policy{BlockDeviceCodeUsers: []string{emulator.ContributorUser}},
			"conditional_access", "Block device code flow"},
		{"device code blocked for the app", emulator.Policy{BlockDeviceCodeApp: true}, "conditional_access", "Conditional Access: exclude this app"},
		{"security defaults", emulator.Policy{SecurityDefaults: true}, "security_defaults", "Manage security defaults"},
		{"device compliance", emulator.Policy{DeviceComplianceRequired: true}, "device_compliance", "cannot prove"},
		{"consent missing", emulator.Policy{ConsentMissing: true}, "consent_required", "Grant admin consent"},
		{"public client flows off", emulator.Policy{PublicClientFlowsOff: true}, "public_client_disabled", "Allow public client flows: Yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, vars := inProcess(t, emulator.Options{Interval: time.Second, Policy: tt.policy})
			e := newEnv(t, vars...)
			_, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") })
			if code != 3 || final["event"] != "error" || final["code"] != tt.code {
				t.Fatalf("login exit %d, event %v; want exit 3 and %s\n%s", code, final, tt.code, stderr)
			}
			wantAdminMessage(t, srv, final["message"].(string), tt.setting)
			if !strings.Contains(stderr, final["message"].(string)) {
				t.Errorf("stderr does not carry the message:\n%s", stderr)
			}
		})
	}
}

// TestPolicyRefusesRefresh: a device signed in before the policy changed.
// A device code block refuses the stored sign-in too (protocol tracking),
// said so; MFA wants a new sign-in, which then works.
func TestPolicyRefusesRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  emulator.Policy
		exit    int
		code    string
		words   string
		relogin bool // a new login helps
	}{
		{"protocol tracking", emulator.Policy{BlockDeviceCodeRefresh: true}, 3, "refresh_blocked", "has since blocked device-code sign-ins", false},
		{"device code blocked for the user", emulator.Policy{BlockDeviceCodeUsers: []string{emulator.ContributorUser}}, 3, "refresh_blocked", "can no longer be renewed", false},
		{"device compliance", emulator.Policy{DeviceComplianceRequired: true}, 3, "device_compliance", "AADSTS53000", false},
		{"consent missing", emulator.Policy{ConsentMissing: true}, 3, "consent_required", "AADSTS65001", false},
		{"public client flows off", emulator.Policy{PublicClientFlowsOff: true}, 3, "public_client_disabled", "AADSTS7000218", false},
		{"mfa required", emulator.Policy{MFARequired: true}, 2, "mfa_required", "Run 'mapsdevice login'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// MSAL renews an access token 5 minutes before it expires:
			// this one needs renewing a second after it is issued.
			srv, vars := inProcess(t, emulator.Options{Interval: time.Second, AccessTokenLifetime: 5*time.Minute + time.Second})
			e := newEnv(t, vars...)
			if _, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") }); code != 0 {
				t.Fatalf("login: %v %s", final, stderr)
			}
			srv.SetPolicy(tt.policy)
			time.Sleep(1500 * time.Millisecond)
			out, stderr, code := e.run("token", "--json")
			ev := lastEvent(t, out)
			if code != tt.exit || ev["code"] != tt.code {
				t.Fatalf("token exit %d, event %v; want exit %d and %s\n%s", code, ev, tt.exit, tt.code, stderr)
			}
			msg := ev["message"].(string)
			if !strings.Contains(msg, tt.words) {
				t.Errorf("message lacks %q:\n%s", tt.words, msg)
			}
			if tt.exit == 3 {
				wantAdminMessage(t, srv, msg, "To change:")
			}
			if !tt.relogin {
				return
			}
			if _, final, code, stderr := login(t, e, func(c string) { srv.Approve(c, "") }); code != 0 {
				t.Fatalf("login again: %v %s", final, stderr)
			}
			time.Sleep(1500 * time.Millisecond)
			if out, stderr, code := e.run("token"); code != 0 || !isJWT(out) {
				t.Errorf("token after a new login: exit %d\n%s", code, stderr)
			}
		})
	}
}

// TestEmulatorPolicySwitches: 'mapsdevice emulator' takes the switches as
// flags and from the environment, and a control call changes them while
// it runs.
func TestEmulatorPolicySwitches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	emu := e.with("MAPSDEVICE_SECURITY_DEFAULTS=true").startEmulator("--listen", freeAddr(t),
		"--state", e.home+"/emulator", "--interval", "1s", "--block-device-code-app")
	e = e.with(emu.exports...)
	caFile := lookup(emu.exports, "MAPSDEVICE_CA_FILE")
	client := caClient(t, caFile)

	var p emulator.Policy
	getPolicy := func(method string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, emu.url+"/emulator/policy", bytes.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p = emulator.Policy{}
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s /emulator/policy: %d %v", method, resp.StatusCode, err)
		}
	}
	getPolicy(http.MethodGet, nil)
	if !p.BlockDeviceCodeApp || !p.SecurityDefaults || p.MFARequired {
		t.Fatalf("policy from flag and environment: %+v", p)
	}
	_, final, code, _ := login(t, e, func(c string) { approve(t, e, emu.url, caFile, c, "approve") })
	if code != 3 || final["code"] != "conditional_access" {
		t.Fatalf("login exit %d, event %v; want 3 and conditional_access", code, final)
	}

	getPolicy(http.MethodPost, []byte(`{}`))
	if p.BlockDeviceCodeApp || p.SecurityDefaults {
		t.Fatalf("policy after clearing: %+v", p)
	}
	_, final, code, stderr := login(t, e, func(c string) { approve(t, e, emu.url, caFile, c, "approve") })
	if code != 0 || final["event"] != "signed_in" {
		t.Fatalf("login after the policy was cleared: exit %d, %v\n%s", code, final, stderr)
	}
	emu.stop(t)
}

func caClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}
