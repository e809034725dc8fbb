package emulator_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapsdevice/mapsdevice/emulator"
)

func TestAppsFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t)
	certFile := filepath.Join(dir, "fleet.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	const (
		fleetApp = "0b1e6f2a-6d61-4073-9de7-00000000f1ee"
		ciApp    = "0b1e6f2a-6d61-4073-9de7-0000000000c1"
		kioskMI  = "0b1e6f2a-6d61-4073-9de7-00000000c105"
	)
	file := filepath.Join(dir, "apps.json")
	os.WriteFile(file, []byte(`{
  "apps": [
    {"name": "fleet", "clientId": "`+fleetApp+`", "role": "Azure Maps Data Reader", "certificateFiles": ["`+certFile+`"]},
    {"name": "ci", "clientId": "`+ciApp+`", "objectId": "5e7a1c0d-0000-4000-8000-0000000000c1", "vaults": ["ops"],
     "federatedCredentials": [{"subject": "repo:mapsdevice/mapsdevice:ref:refs/heads/main"}]}
  ],
  "managedIdentities": [
    {"kind": "user", "clientId": "`+kioskMI+`", "principalId": "5e7a1c0d-0000-4000-8000-00000000c105",
     "resourceId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kiosk", "role": "Azure Maps Data Reader"}
  ]
}`), 0o600)
	f, err := emulator.LoadApps(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Apps) != 2 || len(f.Apps[0].Certificates) != 1 || !f.Apps[0].Certificates[0].Equal(cert) {
		t.Fatalf("apps %+v", f.Apps)
	}
	srv := start(t, emulator.Options{Apps: f.Apps, ManagedIdentities: f.ManagedIdentities})

	t.Run("a certificate from a file", func(t *testing.T) {
		a := assertion{"PS256", "x5t#S256", false, certClaims(srv, fleetApp, 0)}
		status, body, raw := tokenRequest(t, srv, srv.TenantID(), url.Values{
			"grant_type": {"client_credentials"}, "client_id": {fleetApp}, "scope": {mapsDefault},
			"client_assertion_type": {jwtBearer}, "client_assertion": {a.sign(t, cert, key)},
		}, "", "")
		if status != 200 {
			t.Fatalf("%d %s", status, raw)
		}
		claims := claimsOf(t, srv, body["access_token"].(string))
		if oid, _ := claims["oid"].(string); oid == "" || oid == fleetApp {
			t.Errorf("oid %q: want a service principal's own object id", oid)
		}
		if got := mapsGet(t, srv, body["access_token"].(string)); got != 200 {
			t.Errorf("a Data Reader listing map data: %d", got)
		}
	})
	t.Run("a federated credential with its own subject", func(t *testing.T) {
		fic, _ := srv.SignFederatedToken("repo:mapsdevice/mapsdevice:ref:refs/heads/main", time.Hour)
		status, body, raw := tokenRequest(t, srv, srv.TenantID(), url.Values{
			"grant_type": {"client_credentials"}, "client_id": {ciApp}, "scope": {vaultDefault},
			"client_assertion_type": {jwtBearer}, "client_assertion": {fic},
		}, "", "")
		if status != 200 {
			t.Fatalf("%d %s", status, raw)
		}
		// Vault ops exists because an assignment names it, but holds nothing.
		status, vb, _ := vaultGet(t, srv, "/kv/ops/secrets/maps-key", "7.6", body["access_token"].(string))
		if e, _ := vb["error"].(map[string]any); status != 404 || e["code"] != "SecretNotFound" {
			t.Errorf("vault ops: %d %v, want 404 SecretNotFound", status, vb)
		}
		if got := mapsGet(t, srv, appTokenFor(t, srv, ciApp, fic)); got != 403 {
			t.Errorf("an app with no Maps role: %d, want 403", got)
		}
	})
	t.Run("a user-assigned identity", func(t *testing.T) {
		ids := srv.ManagedIdentities()
		if got := ids[len(ids)-1]; got.ClientID != kioskMI || got.Kind != "user" {
			t.Errorf("last identity %+v", got)
		}
		status, body, _ := identityGet(t, srv, "/metadata/identity/oauth2/token",
			url.Values{"api-version": {"2018-02-01"}, "resource": {"https://atlas.microsoft.com"}, "client_id": {kioskMI}},
			map[string][]string{"Metadata": {"true"}})
		if status != 200 || mapsGet(t, srv, body["access_token"].(string)) != 200 {
			t.Errorf("%d %v", status, body)
		}
	})
}

// appTokenFor redeems a federated token for a Maps token.
func appTokenFor(t *testing.T, srv *emulator.Server, clientID, assertion string) string {
	t.Helper()
	status, body, raw := tokenRequest(t, srv, srv.TenantID(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {mapsDefault},
		"client_assertion_type": {jwtBearer}, "client_assertion": {assertion},
	}, "", "")
	if status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	return body["access_token"].(string)
}

func TestAppsRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	tests := []struct {
		name     string
		file     string
		opts     emulator.Options
		wantText string
	}{
		{name: "an unknown field", file: write("a.json", `{"apps":[{"clientId":"x","secret":"y"}]}`), wantText: `unknown field "secret"`},
		{name: "a missing certificate file", file: write("b.json", `{"apps":[{"clientId":"x","certificateFiles":["`+filepath.Join(dir, "none.pem")+`"]}]}`), wantText: "read certificate"},
		{name: "a certificate file with no certificate", file: write("c.json", `{"apps":[{"clientId":"x","certificateFiles":["`+write("key.pem", "nothing")+`"]}]}`), wantText: "no certificate"},
		{name: "a built-in client id", opts: emulator.Options{Apps: []emulator.App{{ClientID: emulator.SecretAppID}}}, wantText: "is taken"},
		{name: "the public client's id", opts: emulator.Options{Apps: []emulator.App{{ClientID: emulator.DefaultClientID}}}, wantText: "is taken"},
		{name: "a federated credential without a subject", opts: emulator.Options{Apps: []emulator.App{{ClientID: "x", FederatedCredentials: []emulator.FederatedCredential{{}}}}}, wantText: "no subject"},
		{name: "a second system-assigned identity", opts: emulator.Options{ManagedIdentities: []emulator.ManagedIdentity{{Kind: "system", ClientID: "a", PrincipalID: "b", ResourceID: "c"}}}, wantText: "only user-assigned"},
		{name: "an identity with a taken id", opts: emulator.Options{ManagedIdentities: []emulator.ManagedIdentity{{Kind: "user", ClientID: emulator.ReporterIdentityClientID, PrincipalID: "b", ResourceID: "c"}}}, wantText: "same id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.file != "" {
				_, err = emulator.LoadApps(tt.file)
			} else {
				var srv *emulator.Server
				srv, err = emulator.New(tt.opts)
				if err == nil {
					srv.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("got %v, want an error saying %q", err, tt.wantText)
			}
		})
	}
}

// TestFederatedIssuer checks the issuer as Entra ID would use it: its
// metadata names the JWKS, whose key verifies the issuer's tokens.
func TestFederatedIssuer(t *testing.T) {
	srv := start(t, emulator.Options{})
	getJSON := func(u string, v any) {
		resp, err := srv.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", u, resp.StatusCode)
		}
		json.NewDecoder(resp.Body).Decode(v)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(srv.FederatedIssuer()+"/.well-known/openid-configuration", &meta)
	if meta.Issuer != srv.URL()+"/fic" || !strings.HasPrefix(meta.JWKSURI, srv.URL()+"/fic/") {
		t.Fatalf("metadata %+v", meta)
	}
	var jwks struct {
		Keys []struct{ Kid, N, E string }
	}
	getJSON(meta.JWKSURI, &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("%d keys", len(jwks.Keys))
	}
	n, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	raw, err := srv.SignFederatedToken(emulator.FederatedSubject, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithIssuer(meta.Issuer), jwt.WithAudience(emulator.FederatedAudience), jwt.WithSubject(emulator.FederatedSubject))
	if err != nil {
		t.Fatalf("the issuer's token does not verify with its JWKS: %v", err)
	}
	if tok.Header["kid"] != jwks.Keys[0].Kid {
		t.Errorf("kid %v, want %s", tok.Header["kid"], jwks.Keys[0].Kid)
	}
	if exp, _ := claims.GetExpirationTime(); exp == nil || time.Until(exp.Time) < 59*time.Minute {
		t.Errorf("exp %v, want an hour from now", exp)
	}
	stale, _ := srv.SignFederatedToken(emulator.FederatedSubject, -10*time.Minute)
	if _, err := jwt.Parse(stale, func(*jwt.Token) (any, error) { return pub, nil }); err == nil {
		t.Error("a token with a negative lifetime is not expired")
	}
	if _, err := srv.SignFederatedToken("", time.Hour); err == nil {
		t.Error("a token without a subject")
	}
}
