package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// The daemon credentials end to end: the real binary against the
// emulator, as a service on a device would run it.

// daemonExports are the export lines the checks use.
var daemonExports = []string{
	"MAPSDEVICE_AUTHORITY", "MAPSDEVICE_CA_FILE", "MAPSDEVICE_MAPS_ENDPOINT", "MAPSDEVICE_MAPS_CLIENT_ID",
	"MAPSDEVICE_EMULATOR_SECRET_APP", "MAPSDEVICE_EMULATOR_CERT_APP", "MAPSDEVICE_EMULATOR_VAULT_URL", "MAPSDEVICE_EMULATOR_TENANT",
}

// startDaemonEmulator runs 'mapsdevice emulator' with its state in state
// and reads export lines until it has every one of daemonExports.
func (e *env) startDaemonEmulator(state string) (*emulatorProcess, map[string]string) {
	e.t.Helper()
	p := e.start("emulator", "--listen", freeAddr(e.t), "--state", state)
	ep := &emulatorProcess{process: p}
	exports := map[string]string{}
	for missing := len(daemonExports); missing > 0; {
		l := p.line(e.t)
		kv, ok := strings.CutPrefix(l, "export ")
		if !ok {
			e.t.Fatalf("not an export line: %q", l)
		}
		name, value, _ := strings.Cut(kv, "=")
		exports[name] = strings.Trim(value, "'")
		ep.exports = append(ep.exports, name+"="+exports[name])
		missing = 0
		for _, want := range daemonExports {
			if _, ok := exports[want]; !ok {
				missing++
			}
		}
	}
	return ep, exports
}

// claimsOf decodes a JWT's payload.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// sourced reads a file of "export NAME='value'" lines, as a shell would.
func sourced(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export ")
		if !ok {
			t.Fatalf("%s: not an export line: %q", path, line)
		}
		name, value, _ := strings.Cut(kv, "=")
		vars = append(vars, name+"="+strings.Trim(value, "'"))
	}
	return vars
}

// mapsKeys reads the emulator's shared keys from its state folder.
func mapsKeys(t *testing.T, state string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "maps-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Primary   string `json:"primary"`
		Secondary string `json:"secondary"`
	}
	if err := json.Unmarshal(data, &keys); err != nil || keys.Primary == "" {
		var list []string
		if json.Unmarshal(data, &list) != nil || len(list) == 0 {
			t.Fatalf("maps-keys.json: %s", data)
		}
		return list
	}
	return []string{keys.Primary, keys.Secondary}
}

// TestDaemonsDoneWhen runs the "Done when" lines against
// 'mapsdevice emulator' with its export lines evaluated.
func TestDaemonsDoneWhen(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	base := newEnv(t)
	emu, exports := base.startDaemonEmulator(state)
	defer emu.stop(t)
	e := base.with(emu.exports...)

	t.Run("app tokens", func(t *testing.T) {
		secretApp, certApp := exports["MAPSDEVICE_EMULATOR_SECRET_APP"], exports["MAPSDEVICE_EMULATOR_CERT_APP"]
		runs := []struct {
			name  string
			appID string
			args  []string
		}{
			{"client secret", secretApp, []string{"--credential", "client-secret", "--client-id", secretApp,
				"--client-secret-file", filepath.Join(state, "daemon-secret.txt")}},
			{"certificate, PEM", certApp, []string{"--credential", "client-certificate", "--client-id", certApp,
				"--client-certificate", filepath.Join(state, "daemon-cert.pem")}},
			{"certificate, PFX", certApp, []string{"--credential", "client-certificate", "--client-id", certApp,
				"--client-certificate", filepath.Join(state, "daemon-cert.pfx"),
				"--client-certificate-password-file", filepath.Join(state, "daemon-cert.pfx.password")}},
		}
		for _, r := range runs {
			t.Run(r.name, func(t *testing.T) {
				out, errOut, code := e.run(append([]string{"token"}, r.args...)...)
				if code != 0 {
					t.Fatalf("token: exit %d: %s", code, errOut)
				}
				c := claimsOf(t, out)
				if c["idtyp"] != "app" || c["appid"] != r.appID || c["tid"] != exports["MAPSDEVICE_EMULATOR_TENANT"] {
					t.Errorf("claims idtyp=%v appid=%v tid=%v, want an app token of %s", c["idtyp"], c["appid"], c["tid"], r.appID)
				}
				if errOut != "" {
					t.Errorf("stderr: %s", errOut)
				}
			})
		}
	})

	t.Run("managed identity", func(t *testing.T) {
		mi := e.with(sourced(t, filepath.Join(state, "managed-identity.env"))...)
		out, errOut, code := mi.run("geofence", "list", "--credential", "managed-identity")
		if code != 0 {
			t.Fatalf("geofence list: exit %d: %s", code, errOut)
		}
		if out == "" {
			t.Error("geofence list printed nothing")
		}
	})

	t.Run("key from the vault", func(t *testing.T) {
		secretApp := exports["MAPSDEVICE_EMULATOR_SECRET_APP"]
		args := []string{"--maps-key-from-vault", exports["MAPSDEVICE_EMULATOR_VAULT_URL"], "--credential", "client-secret",
			"--client-id", secretApp, "--client-secret-file", filepath.Join(state, "daemon-secret.txt")}
		out, errOut, code := e.run(append([]string{"api", "/mapData", "--query", "api-version=2.0"}, args...)...)
		if code != 0 {
			t.Fatalf("api: exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "mapDataList") {
			t.Errorf("api printed %q", out)
		}
		// A failing call too: its error names the request, never the key.
		out2, errOut2, code2 := e.run(append([]string{"api", "/mapData/no-such-udid", "--query", "api-version=2.0", "--json"}, args...)...)
		if code2 == 0 {
			t.Errorf("api for no such udid: exit 0")
		}
		for _, key := range mapsKeys(t, state) {
			for _, s := range []string{out, errOut, out2, errOut2} {
				if key != "" && strings.Contains(s, key) {
					t.Errorf("the Maps key appears in the output: %q", s)
				}
			}
		}
	})
}

// TestDaemonStatus: status shows the kind, the ids and tenant the token
// names, the managed identity's source and the expiry; never a secret.
func TestDaemonStatus(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	secretApp, secret := srv.SecretApp()
	certApp, pemPath, _, _ := srv.CertApp()
	e := newEnv(t, vars...)
	secretFile := writeFile(t, e.home, "secret", secret)
	tests := []struct {
		name string
		env  []string
		args []string
		want map[string]string
	}{
		{"client secret", nil, []string{"--credential", "client-secret", "--client-id", secretApp, "--client-secret-file", secretFile},
			map[string]string{"credential": "client-secret", "app_id": secretApp, "object_id": emulator.SecretAppObjectID, "client_id": secretApp}},
		{"certificate", nil, []string{"--credential", "client-certificate", "--client-id", certApp, "--client-certificate", pemPath},
			map[string]string{"credential": "client-certificate", "app_id": certApp, "object_id": emulator.CertAppObjectID}},
		{"managed identity", []string{"IDENTITY_ENDPOINT=" + srv.URL() + "/msi/token", "IDENTITY_HEADER=" + srv.IdentityHeader()},
			[]string{"--credential", "managed-identity", "--managed-identity", "client-id=" + emulator.ReporterIdentityClientID},
			map[string]string{"credential": "managed-identity", "app_id": emulator.ReporterIdentityClientID, "object_id": emulator.ReporterIdentityPrincipalID,
				"managed_identity": "client-id=" + emulator.ReporterIdentityClientID, "managed_identity_source": "App Service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := e.with(tt.env...).run(append([]string{"status", "--json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("status: exit %d: %s", code, errOut)
			}
			var st map[string]any
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status --json: %q", out)
			}
			for k, v := range tt.want {
				if st[k] != v {
					t.Errorf("%s = %v, want %s", k, st[k], v)
				}
			}
			if st["tenant_id"] != srv.TenantID() || st["signed_in"] != true || st["token_store"] != "memory" {
				t.Errorf("status %v", st)
			}
			exp, err := time.Parse(time.RFC3339, st["expires_at"].(string))
			if err != nil || time.Until(exp) < 30*time.Minute {
				t.Errorf("expires_at %v", st["expires_at"])
			}
			text, _, code := e.with(tt.env...).run(append([]string{"status"}, tt.args...)...)
			if code != 0 || !strings.Contains(text, "Object id:     "+tt.want["object_id"]) {
				t.Errorf("status: exit %d:\n%s", code, text)
			}
			for _, s := range []string{out, errOut, text} {
				if strings.Contains(s, secret) || strings.Contains(s, srv.IdentityHeader()) {
					t.Errorf("status shows a secret: %s", s)
				}
			}
		})
	}
}

// TestDaemonRefusalsExplained: each mistake exits with its code and a
// message that says what to do, before anything is sent when it can be.
func TestDaemonRefusalsExplained(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	secretApp, secret := srv.SecretApp()
	e := newEnv(t, vars...)
	dir := t.TempDir()
	ec := writeFile(t, dir, "ec.pem", ecCertificatePEM(t))
	tests := []struct {
		name     string
		env      []string
		stdin    string
		args     []string
		exit     int
		code     string
		say      []string
		noSend   bool
		stderrOK string // a warning expected on stderr
	}{
		{"wrong secret", nil, "", []string{"--client-id", secretApp, "--client-secret-file", writeFile(t, dir, "wrong", "not-the-secret")},
			1, "invalid_secret", []string{"AADSTS7000215", "Value, not its Secret ID"}, false, ""},
		{"a secret's id", nil, "", []string{"--client-id", secretApp, "--client-secret-file", writeFile(t, dir, "id", "b1a2c3d4-0000-4000-8000-0123456789ab")},
			1, "invalid_secret", []string{"AADSTS7000215"}, false, "looks like a GUID"},
		{"no tenant", []string{"MAPSDEVICE_AUTHORITY=" + srv.URL() + "/organizations"}, "", []string{"--client-id", secretApp, "--client-secret-file", writeFile(t, dir, "s1", secret)},
			64, "tenant_required", []string{"organizations", "--tenant"}, true, ""},
		{"no secret", nil, "", []string{"--client-id", secretApp},
			64, "bad_credential", []string{"MAPSDEVICE_CLIENT_SECRET", "LoadCredential"}, true, ""},
		{"secret on the command line", nil, "", []string{"--client-id", secretApp, "--client-secret", secret},
			64, "usage", []string{"--client-secret-file"}, true, ""},
		{"EC certificate", nil, "", []string{"--credential", "client-certificate", "--client-id", secretApp, "--client-certificate", ec},
			64, "bad_credential", []string{"Entra ID needs an RSA key"}, true, ""},
		{"no client id", nil, "", []string{"--client-id", "", "--client-secret-file", writeFile(t, dir, "s2", secret)},
			64, "no_client_id", []string{"--client-id"}, true, ""},
		{"bad managed identity", nil, "", []string{"--credential", "managed-identity", "--managed-identity", "reporter"},
			64, "usage", []string{"client-id=GUID"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Requests())
			args := append([]string{"token", "--json", "--credential", "client-secret"}, tt.args...)
			out, errOut, code := e.with(tt.env...).run(args...)
			if code != tt.exit {
				t.Fatalf("exit %d, want %d: %s", code, tt.exit, errOut)
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ev); err != nil || ev["code"] != tt.code {
				t.Errorf("stdout %q, want an error event %s", out, tt.code)
			}
			for _, s := range tt.say {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr does not say %q:\n%s", s, errOut)
				}
			}
			if tt.stderrOK != "" && !strings.Contains(errOut, tt.stderrOK) {
				t.Errorf("stderr does not warn %q:\n%s", tt.stderrOK, errOut)
			}
			if n := len(srv.Requests()) - before; tt.noSend && n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
			if strings.Contains(out+errOut, secret) {
				t.Error("the output shows the secret")
			}
		})
	}
}

// TestWorkloadIdentityFromKubernetesVariables: with only what the
// workload identity webhook sets, the federated token signs the app in,
// and a token file rewritten while it runs is read again.
func TestWorkloadIdentityFromKubernetesVariables(t *testing.T) {
	t.Parallel()
	srv := emulatorForBinary(t, emulator.Options{})
	tokenFile := filepath.Join(t.TempDir(), "token")
	write := func(subject string) {
		tok, err := srv.SignFederatedToken(subject, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(emulator.FederatedSubject)
	e := newEnv(t, "MAPSDEVICE_CA_FILE="+srv.CAFile(),
		"AZURE_FEDERATED_TOKEN_FILE="+tokenFile, "AZURE_CLIENT_ID="+srv.FederatedApp(),
		"AZURE_TENANT_ID="+srv.TenantID(), "AZURE_AUTHORITY_HOST="+srv.URL())
	out, errOut, code := e.run("token", "--credential", "workload-identity")
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, errOut)
	}
	if c := claimsOf(t, out); c["appid"] != srv.FederatedApp() || c["idtyp"] != "app" {
		t.Errorf("claims %v", c)
	}
	write("system:serviceaccount:default:intruder")
	_, errOut, code = e.run("token", "--credential", "workload-identity")
	if code != 1 || !strings.Contains(errOut, "AADSTS70021") {
		t.Errorf("with another subject's token: exit %d: %s", code, errOut)
	}
}

// ecCertificatePEM is a self-signed certificate with its EC key, which
// Entra ID does not take.
func ecCertificatePEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// emulatorForBinary is an emulator in the test that the binary reaches.
func emulatorForBinary(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	srv, _ := inProcess(t, opts)
	return srv
}

// appArgs are the flags of each kind of credential against srv; the
// managed identity's variables come in env.
func appArgs(t *testing.T, srv *emulator.Server, home string) map[string][]string {
	t.Helper()
	secretApp, secret := srv.SecretApp()
	certApp, _, pfxPath, pfxPassword := srv.CertApp()
	tok, err := srv.SignFederatedToken(emulator.FederatedSubject, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]string{
		"client-secret": {"--credential", "client-secret", "--client-id", secretApp, "--client-secret-file", writeFile(t, home, "secret", secret)},
		"client-certificate": {"--credential", "client-certificate", "--client-id", certApp, "--client-certificate", pfxPath,
			"--client-certificate-password-file", writeFile(t, home, "pfx-password", pfxPassword)},
		"workload-identity": {"--credential", "workload-identity", "--client-id", srv.FederatedApp(), "--federated-token-file", writeFile(t, home, "fic", tok)},
		"managed-identity":  {"--credential", "managed-identity"},
	}
}

// TestReportWithEachCredential: the reporter delivers every reading once
// with each kind of credential, through tokens that live 5 minutes and 3
// seconds, so that within the run MSAL's 5-minute window makes it get a
// new one.
func TestReportWithEachCredential(t *testing.T) {
	t.Parallel()
	srv := emulatorForBinary(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond, MapsRate: -1, AppTokenLifetime: 5*time.Minute + 3*time.Second})
	for i, kind := range []string{"client-secret", "client-certificate", "workload-identity", "managed-identity"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, "MAPSDEVICE_AUTHORITY="+srv.Authority(), "MAPSDEVICE_CA_FILE="+srv.CAFile(),
				"MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint(), "MAPSDEVICE_MAPS_CLIENT_ID="+srv.MapsClientID(),
				"IDENTITY_ENDPOINT="+srv.URL()+"/msi/token", "IDENTITY_HEADER="+srv.IdentityHeader())
			endpoint := emulator.EndpointToken
			if kind == "managed-identity" {
				endpoint = emulator.EndpointManagedIdentity
			}
			tokensBefore := countRequests(srv, endpoint)
			args := append([]string{"report", "--batch-size", "10", "--max-delay", "50ms"}, appArgs(t, srv, e.home)[kind]...)
			cmd := e.command(t.Context(), args...)
			stdin, _ := cmd.StdinPipe()
			var logs syncBuffer
			cmd.Stdout, cmd.Stderr = io.Discard, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			first := i * 1000
			for n := first; n < first+30; n++ {
				io.WriteString(stdin, numbered(n)+"\n")
			}
			waitUntil(t, 20*time.Second, func() bool { return countDelivered(t, srv, first, first+30) == 30 })
			time.Sleep(3500 * time.Millisecond) // into the last 5 minutes of the token
			for n := first + 30; n < first+60; n++ {
				io.WriteString(stdin, numbered(n)+"\n")
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("report: %v\n%s", err, logs.String())
			}
			got := delivered(t, srv)
			for n := first; n < first+60; n++ {
				if len(got[n]) != 1 {
					t.Errorf("reading %d arrived in %d batches, want 1", n, len(got[n]))
				}
			}
			if n := countRequests(srv, endpoint) - tokensBefore; n < 2 {
				t.Errorf("%d token requests, want a second once the first had under 5 minutes left", n)
			}
		})
	}
}

func countRequests(srv *emulator.Server, e emulator.Endpoint) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == e {
			n++
		}
	}
	return n
}

// countDelivered counts the readings from first to last (excluded) that
// the emulator holds.
func countDelivered(t *testing.T, srv *emulator.Server, first, last int) int {
	n := 0
	for seq := range delivered(t, srv) {
		if seq >= first && seq < last {
			n++
		}
	}
	return n
}

// TestVaultKey: --maps-key-from-vault with each way in, the refusals
// explained, and a key rotated while report runs: the 401 makes it read
// the vault again, and nothing is lost or sent twice.
func TestVaultKey(t *testing.T) {
	t.Parallel()
	stranger := emulator.App{Name: "no-vault", ClientID: "0b1e6f2a-6d61-4073-9de7-00000000a002", Role: emulator.RoleDataContributor,
		Secrets: []emulator.AppSecret{{Value: "a-secret-of-an-app-with-no-vault-role"}}}
	srv := emulatorForBinary(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond, MapsRate: -1, Apps: []emulator.App{stranger}})
	vars := []string{"MAPSDEVICE_AUTHORITY=" + srv.Authority(), "MAPSDEVICE_CA_FILE=" + srv.CAFile(),
		"MAPSDEVICE_MAPS_ENDPOINT=" + srv.MapsEndpoint(), "MAPSDEVICE_MAPS_KEY_FROM_VAULT=" + srv.VaultSecretURL()}
	e := newEnv(t, vars...)
	secretArgs := appArgs(t, srv, e.home)["client-secret"]

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			code string
			say  string
		}{
			{"no role", []string{"--credential", "client-secret", "--client-id", stranger.ClientID,
				"--client-secret-file", writeFile(t, e.home, "stranger", "a-secret-of-an-app-with-no-vault-role")},
				"vault_forbidden", `"Key Vault Secrets User"`},
			{"no such secret", append([]string{"--maps-key-from-vault", strings.Replace(srv.VaultSecretURL(), "maps-key", "nope", 1)}, secretArgs...),
				"vault_not_found", "Check --maps-key-from-vault"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out, errOut, code := e.run(append([]string{"geofence", "list", "--json"}, tt.args...)...)
				if code != 1 || !strings.Contains(out, `"code":"`+tt.code+`"`) || !strings.Contains(errOut, tt.say) {
					t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
				}
			})
		}
	})

	t.Run("device code with the delegated permission", func(t *testing.T) {
		u := e.with("MAPSDEVICE_CLIENT_ID="+srv.ClientID(), "MAPSDEVICE_TOKEN_STORE=file")
		if _, final, code, stderr := login(t, u, func(c string) { srv.Approve(c, emulator.ContributorUser) }); code != 0 {
			t.Fatalf("login: %v %s", final, stderr)
		}
		if out, errOut, code := u.run("geofence", "list", "--json"); code != 0 || !strings.Contains(out, "map_data") {
			t.Fatalf("geofence list: exit %d: %s %s", code, out, errOut)
		}
	})

	t.Run("rotated during report", func(t *testing.T) {
		vaultBefore := countRequests(srv, emulator.EndpointKeyVault)
		cmd := e.command(t.Context(), append([]string{"report", "--batch-size", "10", "--max-delay", "50ms"}, secretArgs...)...)
		stdin, _ := cmd.StdinPipe()
		var logs syncBuffer
		cmd.Stdout, cmd.Stderr = io.Discard, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		oldKey := srv.SharedKeys()[0]
		for n := 5000; n < 5030; n++ {
			io.WriteString(stdin, numbered(n)+"\n")
		}
		waitUntil(t, 20*time.Second, func() bool { return countDelivered(t, srv, 5000, 5030) == 30 })
		if err := srv.RotateMapsKey(); err != nil {
			t.Fatal(err)
		}
		for n := 5030; n < 5060; n++ {
			io.WriteString(stdin, numbered(n)+"\n")
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("report: %v\n%s", err, logs.String())
		}
		got := delivered(t, srv)
		for n := 5000; n < 5060; n++ {
			if len(got[n]) != 1 {
				t.Errorf("reading %d arrived in %d batches, want 1", n, len(got[n]))
			}
		}
		// The challenge and the read at start, and again after the 401.
		if n := countRequests(srv, emulator.EndpointKeyVault) - vaultBefore; n != 4 {
			t.Errorf("%d Key Vault requests, want 4", n)
		}
		for _, key := range []string{oldKey, srv.SharedKeys()[0]} {
			if strings.Contains(logs.String(), key) {
				t.Errorf("a Maps key is in the logs:\n%s", logs.String())
			}
		}
	})
}

// TestMapsKeyFromFileAndArgv: --maps-key-file works; --maps-key on the
// command line works but warns; MAPSDEVICE_MAPS_KEY does not warn; and a
// failing call shows no key.
func TestMapsKeyFromFileAndArgv(t *testing.T) {
	t.Parallel()
	srv := emulatorForBinary(t, emulator.Options{})
	key := srv.SharedKeys()[0]
	e := newEnv(t, "MAPSDEVICE_CA_FILE="+srv.CAFile(), "MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint())
	keyFile := writeFile(t, e.home, "maps-key", key+"\n")
	tests := []struct {
		name string
		env  []string
		args []string
		warn bool
	}{
		{"file", nil, []string{"--maps-key-file", keyFile}, false},
		{"environment", []string{"MAPSDEVICE_MAPS_KEY=" + key}, nil, false},
		{"command line", nil, []string{"--maps-key", key}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := e.with(tt.env...).run(append([]string{"api", "/mapData", "--query", "api-version=2.0"}, tt.args...)...)
			if code != 0 || !strings.Contains(out, "mapDataList") {
				t.Fatalf("api: exit %d: %s %s", code, out, errOut)
			}
			if got := strings.Contains(errOut, "--maps-key puts the key on the command line"); got != tt.warn {
				t.Errorf("warned %v, want %v: %s", got, tt.warn, errOut)
			}
			_, errOut, code = e.with(tt.env...).run(append([]string{"api", "/mapData/nope", "--query", "api-version=2.0"}, tt.args...)...)
			if code == 0 || strings.Contains(errOut, key) {
				t.Errorf("failing api: exit %d: %s", code, errOut)
			}
		})
	}
	// A refused key is not a lost sign-in: exit 1, and no advice to log in.
	out, errOut, code := e.with("MAPSDEVICE_MAPS_KEY=not-the-key").run("api", "/mapData", "--query", "api-version=2.0", "--json")
	if code != 1 || !strings.Contains(out, `"code":"key_refused"`) || strings.Contains(out+errOut, "login") || strings.Contains(out+errOut, "not-the-key") {
		t.Errorf("a wrong key: exit %d: %s %s", code, out, errOut)
	}
}

// TestManagedIdentityUnreachable: an endpoint that never answers fails
// within --timeout, naming the source and the variables it saw.
func TestManagedIdentityUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // and never answer
		}
	}()
	e := newEnv(t, "IDENTITY_ENDPOINT=http://"+ln.Addr().String()+"/msi/token", "IDENTITY_HEADER=x")
	began := time.Now()
	out, errOut, code := e.run("token", "--credential", "managed-identity", "--timeout", "2s", "--json")
	if code != 1 || !strings.Contains(out, `"code":"managed_identity"`) {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"within 2s", "App Service", "IDENTITY_ENDPOINT, IDENTITY_HEADER", "Azure Arc-enabled"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("took %s with --timeout 2s", d)
	}
}

// TestArcManagedIdentity runs this test again in a user and mount
// namespace with a temporary folder bound over /var/opt, where MSAL
// insists Azure Arc's challenge keys live; there an emulator answering as
// Arc writes its keys, and the binary reads them.
func TestArcManagedIdentity(t *testing.T) {
	if os.Getenv("MAPSDEVICE_ARC_NAMESPACE") == "1" {
		arcInNamespace(t)
		return
	}
	t.Parallel()
	varOpt := t.TempDir()
	const bind = `mount --bind "$1" /var/opt && shift && exec "$@"`
	probe := exec.Command("unshare", "-Urm", "sh", "-c", bind, "sh", varOpt, "true")
	if out, err := probe.CombinedOutput(); err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_NAMESPACES") == "1" {
			t.Fatalf("MAPSDEVICE_REQUIRE_NAMESPACES=1 but a user and mount namespace cannot bind /var/opt: %v: %s", err, out)
		}
		t.Skipf("user and mount namespaces are not allowed here (%v: %s); MAPSDEVICE_REQUIRE_NAMESPACES=1 fails instead", err, strings.TrimSpace(string(out)))
	}
	cmd := exec.CommandContext(t.Context(), "unshare", "-Urm", "sh", "-c", bind, "sh", varOpt,
		os.Args[0], "-test.run=^TestArcManagedIdentity$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "MAPSDEVICE_ARC_NAMESPACE=1", "MAPSDEVICE_E2E_BINARY="+binary)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestArcManagedIdentity") {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
}

// arcInNamespace is TestArcManagedIdentity inside the namespace.
func arcInNamespace(t *testing.T) {
	if err := os.MkdirAll(emulator.DefaultArcTokenDir, 0o750); err != nil {
		t.Fatal(err)
	}
	srv := emulatorForBinary(t, emulator.Options{Arc: true})
	e := newEnv(t, "MAPSDEVICE_CA_FILE="+srv.CAFile(), "MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint(), "MAPSDEVICE_MAPS_CLIENT_ID="+srv.MapsClientID(),
		"IDENTITY_ENDPOINT="+srv.URL()+"/metadata/identity/oauth2/token", "IMDS_ENDPOINT="+srv.URL())
	out, errOut, code := e.run("status", "--json", "--credential", "managed-identity")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %q", out)
	}
	if st["managed_identity_source"] != "Azure Arc" || st["object_id"] != emulator.SystemIdentityPrincipalID {
		t.Errorf("status %v, want the Arc machine's identity", st)
	}
	if _, errOut, code := e.run("geofence", "list", "--credential", "managed-identity"); code != 0 {
		t.Errorf("geofence list: exit %d: %s", code, errOut)
	}
	// Each challenge key is used once and removed.
	if left, _ := os.ReadDir(emulator.DefaultArcTokenDir); len(left) != 0 {
		t.Errorf("%d challenge keys left behind", len(left))
	}
}
