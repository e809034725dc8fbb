package cli_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/cli"
)

// TestEmulatorFilesForDaemons runs 'mapsdevice emulator' as a script
// would use it: evaluate its export lines, then sign in as each daemon
// with the files in its state folder, over plain HTTPS.
func TestEmulatorFilesForDaemons(t *testing.T) {
	hermetic(t)
	state := filepath.Join(t.TempDir(), "emulator")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		code := cli.Main(ctx, []string{"emulator", "--listen", "127.0.0.1:0", "--state", state, "--app-token-lifetime", "10m"},
			cli.Stdio{In: strings.NewReader(""), Out: pw, Err: io.Discard})
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, pr)
		if code := <-done; code != 0 {
			t.Errorf("emulator exited %d", code)
		}
	})
	env := map[string]string{}
	lines := bufio.NewScanner(pr)
	for len(env) < 11 && lines.Scan() {
		kv, ok := strings.CutPrefix(lines.Text(), "export ")
		if !ok {
			t.Fatalf("not an export line: %q", lines.Text())
		}
		k, v, _ := strings.Cut(kv, "=")
		env[k] = strings.Trim(v, "'")
	}
	want := map[string]string{
		"MAPSDEVICE_EMULATOR_SECRET_APP": emulator.SecretAppID,
		"MAPSDEVICE_EMULATOR_CERT_APP":   emulator.CertAppID,
		"MAPSDEVICE_EMULATOR_FIC_APP":    emulator.FederatedAppID,
		"MAPSDEVICE_EMULATOR_TENANT":     emulator.DefaultTenantID,
		"MAPSDEVICE_EMULATOR_STATE":      state,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	base := strings.TrimSuffix(env["MAPSDEVICE_AUTHORITY"], "/"+emulator.DefaultTenantID)
	if env["MAPSDEVICE_EMULATOR_VAULT_URL"] != base+"/kv/demo/secrets/maps-key" {
		t.Errorf("MAPSDEVICE_EMULATOR_VAULT_URL=%q", env["MAPSDEVICE_EMULATOR_VAULT_URL"])
	}
	for _, name := range []string{"daemon-secret.txt", "daemon-cert.pem", "daemon-cert.pfx", "daemon-cert.pfx.password", "federated-token.jwt", "managed-identity.env"} {
		fi, err := os.Stat(filepath.Join(state, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600: it holds a secret", name, fi.Mode().Perm())
		}
	}

	pem, err := os.ReadFile(env["MAPSDEVICE_CA_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(state, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	token := func(form url.Values) map[string]any {
		t.Helper()
		form.Set("grant_type", "client_credentials")
		form.Set("scope", "https://atlas.microsoft.com/.default")
		resp, err := client.PostForm(env["MAPSDEVICE_AUTHORITY"]+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
		return body
	}
	t.Run("daemon-secret.txt", func(t *testing.T) {
		body := token(url.Values{"client_id": {env["MAPSDEVICE_EMULATOR_SECRET_APP"]}, "client_secret": {read("daemon-secret.txt")}})
		if body["expires_in"] != float64(600) {
			t.Errorf("expires_in %v, want --app-token-lifetime's 600", body["expires_in"])
		}
	})
	t.Run("federated-token.jwt", func(t *testing.T) {
		token(url.Values{"client_id": {env["MAPSDEVICE_EMULATOR_FIC_APP"]},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {read("federated-token.jwt")}})
	})
	t.Run("managed-identity.env", func(t *testing.T) {
		vars := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(read("managed-identity.env")), "\n") {
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			vars[k] = strings.Trim(v, "'")
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
			vars["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource=https://atlas.microsoft.com", nil)
		req.Header.Set("X-IDENTITY-HEADER", vars["IDENTITY_HEADER"])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("App Service endpoint from managed-identity.env: %d", resp.StatusCode)
		}
	})
}
