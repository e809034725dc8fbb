package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/mapsdevice/mapsdevice/emulator"
)

const noVaultApp = "0b1e6f2a-6d61-4073-9de7-0000000000bb"

// startVault starts an emulator with one more app, which has a Maps role
// but no role on any vault.
func startVault(t *testing.T) *emulator.Server {
	t.Helper()
	return start(t, emulator.Options{Apps: []emulator.App{{
		Name: "no-vault", ClientID: noVaultApp, Role: emulator.RoleDataReader,
		Secrets: []emulator.AppSecret{{Value: "no-vault-secret"}},
	}}})
}

// vaultGet reads a secret with plain net/http.
func vaultGet(t *testing.T, srv *emulator.Server, path, apiVersion, token string) (int, map[string]any, http.Header) {
	t.Helper()
	u := srv.URL() + path
	if apiVersion != "" {
		u += "?api-version=" + apiVersion
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%d %q is not JSON", resp.StatusCode, raw)
	}
	return resp.StatusCode, body, resp.Header
}

// userToken signs a user in by device code and redeems the refresh token
// for another resource, as MSAL's silent call does.
func userToken(t *testing.T, srv *emulator.Server, user, scope string) string {
	t.Helper()
	dc := deviceCode(t, srv)
	if err := srv.Approve(dc["user_code"].(string), user); err != nil {
		t.Fatal(err)
	}
	_, tok := poll(t, srv, dc)
	status, body, raw := postForm(t, srv, "/organizations/oauth2/v2.0/token", url.Values{
		"client_id": {srv.ClientID()}, "grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)},
		"scope": {scope + " openid offline_access profile"},
	}, "")
	if status != 200 {
		t.Fatalf("refresh for %s: %d %s", scope, status, raw)
	}
	return body["access_token"].(string)
}

func TestKeyVaultGetSecret(t *testing.T) {
	srv := startVault(t)
	secretID, secret := srv.SecretApp()
	app := appToken(t, srv, secretID, secret, vaultDefault)
	path := strings.TrimPrefix(srv.VaultSecretURL(), srv.URL())
	status, latest, _ := vaultGet(t, srv, path, "7.6", app)
	if status != 200 {
		t.Fatalf("%d %v", status, latest)
	}
	version := latest["id"].(string)[len(srv.VaultSecretURL())+1:]
	challenge := `Bearer authorization="` + srv.Authority() + `", resource="https://vault.azure.net"`
	tests := []struct {
		name       string
		path       string
		apiVersion string
		token      string
		wantStatus int
		wantCode   string
		wantInner  string
		wantText   string
	}{
		{"latest, api-version 7.6", path, "7.6", app, 200, "", "", ""},
		{"latest with a trailing slash, as azsecrets asks", path + "/", "2026-04-01", app, 200, "", "", ""},
		{"a version", path + "/" + version, "2025-07-01", app, 200, "", "", ""},
		{"as a user with the role, by device code", path, "7.5", userToken(t, srv, emulator.ContributorUser, "https://vault.azure.net/user_impersonation"), 200, "", "", ""},
		{"no token", path, "7.6", "", 401, "Unauthorized", "", "missing a Bearer or PoP token"},
		{"a token for Maps", path, "7.6", appToken(t, srv, secretID, secret, mapsDefault), 401, "Unauthorized", "", "Invalid audience"},
		{"a token that is not a token", path, "7.6", "abc.def.ghi", 401, "Unauthorized", "", "invalid or expired"},
		{"an app without the role", path, "7.6", appToken(t, srv, noVaultApp, "no-vault-secret", vaultDefault), 403, "Forbidden", "ForbiddenByRbac", "Caller: appid=" + noVaultApp},
		{"a user without the role", path, "7.6", userToken(t, srv, emulator.ReaderUser, "https://vault.azure.net/user_impersonation"), 403, "Forbidden", "ForbiddenByRbac", "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"},
		{"an unknown secret", "/kv/demo/secrets/nope", "7.6", app, 404, "SecretNotFound", "", "A secret with (name/id) nope was not found"},
		{"an unknown version", path + "/0123456789abcdef0123456789abcdef", "7.6", app, 404, "SecretNotFound", "", "maps-key/0123456789abcdef0123456789abcdef"},
		{"an unknown vault", "/kv/other/secrets/maps-key", "7.6", app, 404, "VaultNotFound", "", "other"},
		{"no api-version", path, "", app, 400, "BadParameter", "", "not recognized"},
		{"an unknown api-version", path, "6.0", app, 400, "BadParameter", "", "not recognized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, h := vaultGet(t, srv, tt.path, tt.apiVersion, tt.token)
			if status != tt.wantStatus {
				t.Fatalf("%d %v, want %d", status, body, tt.wantStatus)
			}
			if status == 200 {
				if body["value"] != srv.SharedKeys()[0] {
					t.Errorf("value is not the Maps primary key")
				}
				if id, _ := body["id"].(string); !strings.HasPrefix(id, srv.VaultSecretURL()+"/") || len(id) != len(srv.VaultSecretURL())+33 {
					t.Errorf("id %q, want the secret's URL and a 32-character version", id)
				}
				attrs, _ := body["attributes"].(map[string]any)
				if attrs["enabled"] != true || attrs["created"] == nil || attrs["recoveryLevel"] == nil {
					t.Errorf("attributes %v", attrs)
				}
				return
			}
			e, _ := body["error"].(map[string]any)
			if e["code"] != tt.wantCode || !strings.Contains(e["message"].(string), tt.wantText) {
				t.Errorf("error %v, want %s saying %q", e, tt.wantCode, tt.wantText)
			}
			if inner, _ := e["innererror"].(map[string]any); tt.wantInner != "" && (inner == nil || inner["code"] != tt.wantInner) {
				t.Errorf("innererror %v, want %s", e["innererror"], tt.wantInner)
			}
			if got := h.Get("WWW-Authenticate"); status == 401 && got != challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, challenge)
			}
		})
	}
}

func TestRotateMapsKey(t *testing.T) {
	dir := t.TempDir()
	srv := start(t, emulator.Options{StateDir: dir})
	secretID, secret := srv.SecretApp()
	token := appToken(t, srv, secretID, secret, vaultDefault)
	path := strings.TrimPrefix(srv.VaultSecretURL(), srv.URL())
	_, before, _ := vaultGet(t, srv, path, "7.6", token)
	oldKey := srv.SharedKeys()[0]

	// The control call, as a script would make it.
	resp, err := srv.Client().Post(srv.URL()+"/emulator/rotate-maps-key", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rotated map[string]string
	json.NewDecoder(resp.Body).Decode(&rotated)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	newKey := srv.SharedKeys()[0]
	if newKey == oldKey {
		t.Fatal("the primary key did not change")
	}
	_, after, _ := vaultGet(t, srv, path, "7.6", token)
	if after["value"] != newKey || after["id"] != rotated["id"] || after["id"] == before["id"] {
		t.Errorf("after rotation the vault has id %v, want a new version %v holding the new key", after["id"], rotated["id"])
	}
	_, old, _ := vaultGet(t, srv, strings.TrimPrefix(before["id"].(string), srv.URL()), "7.6", token)
	if old["value"] != oldKey {
		t.Error("the old version no longer holds the old key")
	}
	keyed := func(s *emulator.Server, key string) int {
		resp, err := s.Client().Get(s.MapsEndpoint() + "/mapData?api-version=2.0&subscription-key=" + url.QueryEscape(key))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := keyed(srv, oldKey); got != 401 {
		t.Errorf("the old key: %d, want 401", got)
	}
	if got := keyed(srv, newKey); got != 200 {
		t.Errorf("the new key: %d, want 200", got)
	}
	srv.Close()
	again := start(t, emulator.Options{StateDir: dir})
	_, restarted, _ := vaultGet(t, again, path, "7.6", appToken(t, again, secretID, secret, vaultDefault))
	if again.SharedKeys()[0] != newKey || restarted["value"] != newKey || !strings.HasSuffix(restarted["id"].(string), rotated["id"][len(srv.URL()):]) {
		t.Error("the rotation did not survive a restart")
	}
}

// msalCredential lets the Azure SDK take tokens from MSAL's confidential
// client, as an app that uses both would.
type msalCredential struct{ client confidential.Client }

func (c msalCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	res, err := c.client.AcquireTokenByCredential(ctx, opts.Scopes)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: res.AccessToken, ExpiresOn: res.ExpiresOn}, nil
}

// TestAzsecretsConformance runs the Azure SDK's own Key Vault client
// against the emulator: challenge, token, secret, versions, errors.
func TestAzsecretsConformance(t *testing.T) {
	srv := startVault(t)
	secretID, secret := srv.SecretApp()
	vaultURL := strings.TrimSuffix(srv.VaultSecretURL(), "/secrets/maps-key")
	newClient := func(clientID, secret string, verify bool) *azsecrets.Client {
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		c, err := azsecrets.NewClient(vaultURL, msalCredential{newConfidential(t, srv, clientID, cred)}, &azsecrets.ClientOptions{
			ClientOptions: azcore.ClientOptions{Transport: srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
			// The vault's host is not under vault.azure.net, which the SDK
			// checks unless told not to.
			DisableChallengeResourceVerification: !verify,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient(secretID, secret, false)

	latest, err := c.GetSecret(t.Context(), "maps-key", "", nil)
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if latest.Value == nil || *latest.Value != srv.SharedKeys()[0] {
		t.Fatal("the secret is not the Maps primary key")
	}
	if latest.Attributes == nil || latest.Attributes.Enabled == nil || !*latest.Attributes.Enabled || latest.Attributes.Created == nil {
		t.Errorf("attributes %+v", latest.Attributes)
	}
	id := string(*latest.ID)
	version := id[strings.LastIndex(id, "/")+1:]
	if err := srv.RotateMapsKey(); err != nil {
		t.Fatal(err)
	}
	old, err := c.GetSecret(t.Context(), "maps-key", version, nil)
	if err != nil {
		t.Fatalf("GetSecret of a version: %v", err)
	}
	if *old.Value != *latest.Value {
		t.Error("the old version changed")
	}
	rotated, err := c.GetSecret(t.Context(), "maps-key", "", nil)
	if err != nil || *rotated.Value != srv.SharedKeys()[0] || *rotated.Value == *latest.Value {
		t.Errorf("after rotation: %v, want the new key", err)
	}

	var re *azcore.ResponseError
	_, err = c.GetSecret(t.Context(), "nope", "", nil)
	if !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "SecretNotFound" {
		t.Errorf("an unknown secret: %v, want 404 SecretNotFound", err)
	}
	_, err = newClient(noVaultApp, "no-vault-secret", false).GetSecret(t.Context(), "maps-key", "", nil)
	if !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != "Forbidden" {
		t.Errorf("an app without the role: %v, want 403 Forbidden", err)
	}
	_, err = newClient(secretID, secret, true).GetSecret(t.Context(), "maps-key", "", nil)
	if err == nil || !strings.Contains(err.Error(), "doesn't match the requested domain") {
		t.Errorf("with the SDK's resource check on: %v, want its refusal of a vault outside vault.azure.net", err)
	}

	var gets, bare int
	for _, r := range srv.Requests() {
		if r.Endpoint != emulator.EndpointKeyVault {
			continue
		}
		gets++
		if !r.Bearer {
			bare++
		}
		if r.Query.Get("api-version") == "" {
			t.Errorf("azsecrets sent no api-version: %s", r.Path)
		}
	}
	// Each client first asks without a token, to learn from the challenge
	// where to get one: 4 gets by the first client, 1 by the second, and
	// the third stops at the challenge it refuses.
	if bare != 3 || gets != 3+4+1 {
		t.Errorf("%d vault requests, %d without a token; want 8 and 3", gets, bare)
	}
}

func TestVaultTokensForUsers(t *testing.T) {
	srv := start(t, emulator.Options{})
	tests := []struct {
		name, scope, wantAud string
	}{
		{"Maps", emulator.MapsScope, emulator.MapsAudience},
		{"Key Vault", "https://vault.azure.net/user_impersonation", emulator.VaultAudience},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := claimsOf(t, srv, userToken(t, srv, emulator.ContributorUser, tt.scope))
			if claims["aud"] != tt.wantAud || claims["scp"] != "user_impersonation" || claims["upn"] != emulator.ContributorUser {
				t.Errorf("aud %v scp %v upn %v", claims["aud"], claims["scp"], claims["upn"])
			}
		})
	}
	t.Run("two resources at once", func(t *testing.T) {
		status, body, _ := postForm(t, srv, "/organizations/oauth2/v2.0/devicecode", url.Values{
			"client_id": {srv.ClientID()}, "scope": {emulator.MapsScope + " https://vault.azure.net/user_impersonation"},
		}, "")
		codes, _ := body["error_codes"].([]any)
		if status != 400 || body["error"] != "invalid_scope" || len(codes) != 1 || codes[0] != float64(28000) {
			t.Errorf("%d %v, want 400 invalid_scope AADSTS28000", status, body)
		}
	})
}
