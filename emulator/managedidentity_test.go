package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mi "github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
)

// MSAL keeps managed identity tokens in one cache for the whole process,
// keyed by identity and resource: each test below asks for a pair no
// other test asks for, so that it reaches its own emulator.

// clearIdentityEnv leaves only the variables a test sets, so that MSAL
// picks the source the test means. Tests that call it cannot be parallel.
func clearIdentityEnv(t *testing.T) {
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET"} {
		t.Setenv(k, "")
	}
}

func TestMSALManagedIdentityAppService(t *testing.T) {
	srv := start(t, emulator.Options{})
	clearIdentityEnv(t)
	t.Setenv("IDENTITY_ENDPOINT", srv.URL()+"/msi/token")
	t.Setenv("IDENTITY_HEADER", srv.IdentityHeader())
	tests := []struct {
		name     string
		id       mi.ID
		resource string
		want     emulator.ManagedIdentity
		maps     int // Maps's answer to the token, when it is for Maps
	}{
		{"system-assigned", mi.SystemAssigned(), "https://atlas.microsoft.com", srv.ManagedIdentities()[0], 200},
		{"user-assigned by client id", mi.UserAssignedClientID(emulator.ReporterIdentityClientID), "https://vault.azure.net", srv.ManagedIdentities()[1], 0},
		{"user-assigned by resource id", mi.UserAssignedResourceID(emulator.ReporterIdentityResourceID), "https://storage.azure.com", srv.ManagedIdentities()[1], 0},
		{"user-assigned by object id", mi.UserAssignedObjectID(emulator.ReporterIdentityPrincipalID), "https://eventhubs.azure.net", srv.ManagedIdentities()[1], 0},
		{"user-assigned without a role", mi.UserAssignedClientID(emulator.NoRoleIdentityClientID), "https://atlas.microsoft.com/.default", srv.ManagedIdentities()[2], 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mi.New(tt.id, mi.WithHTTPClient(srv.Client()))
			if err != nil {
				t.Fatal(err)
			}
			if src, _ := mi.GetSource(); src != mi.AppService {
				t.Fatalf("MSAL sees %s", src)
			}
			first, err := c.AcquireToken(t.Context(), tt.resource)
			if err != nil {
				t.Fatal(err)
			}
			second, err := c.AcquireToken(t.Context(), tt.resource)
			if err != nil {
				t.Fatal(err)
			}
			if first.Metadata.TokenSource != mi.TokenSourceIdentityProvider || second.Metadata.TokenSource != mi.TokenSourceCache {
				t.Errorf("token sources %v then %v", first.Metadata.TokenSource, second.Metadata.TokenSource)
			}
			checkIdentityToken(t, srv, first.AccessToken, tt.want, tt.resource)
			if tt.maps != 0 {
				if got := mapsGet(t, srv, first.AccessToken); got != tt.maps {
					t.Errorf("Maps answered %d, want %d", got, tt.maps)
				}
			}
		})
	}
	t.Run("wrong identity header", func(t *testing.T) {
		t.Setenv("IDENTITY_HEADER", "guessed")
		c, _ := mi.New(mi.UserAssignedResourceID(emulator.NoRoleIdentityResourceID), mi.WithHTTPClient(srv.Client()))
		_, err := c.AcquireToken(t.Context(), "https://storage.azure.com")
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "X-IDENTITY-HEADER") {
			t.Errorf("got %v, want a 401 that names X-IDENTITY-HEADER", err)
		}
	})
}

// checkIdentityToken checks a managed identity's token is an app token of
// its principal for the resource.
func checkIdentityToken(t *testing.T, srv *emulator.Server, token string, want emulator.ManagedIdentity, resource string) {
	t.Helper()
	claims := claimsOf(t, srv, token)
	aud := strings.TrimSuffix(strings.TrimSuffix(resource, "/.default"), "/")
	if got, _ := claims["aud"].(string); strings.TrimSuffix(got, "/") != aud {
		t.Errorf("aud %v, want %s", claims["aud"], aud)
	}
	wantClaims := map[string]any{
		"oid": want.PrincipalID, "appid": want.ClientID, "xms_mirid": want.ResourceID, "idtyp": "app",
		"appidacr": "2", "tid": srv.TenantID(),
	}
	for k, v := range wantClaims {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if _, ok := claims["scp"]; ok {
		t.Error("a managed identity token has scp")
	}
}

func TestMSALManagedIdentityIMDS(t *testing.T) {
	srv := start(t, emulator.Options{})
	clearIdentityEnv(t)
	if _, err := os.Stat("/opt/azcmagent/bin/himds"); err == nil {
		t.Fatal("this machine has an Azure Arc agent, so MSAL would not use IMDS")
	}
	client := emulatortest.IMDSClient(t, srv)
	tests := []struct {
		name     string
		id       mi.ID
		resource string
		want     emulator.ManagedIdentity
	}{
		{"system-assigned", mi.SystemAssigned(), "https://storage.azure.com/.default", srv.ManagedIdentities()[0]},
		{"user-assigned by client id", mi.UserAssignedClientID(emulator.ReporterIdentityClientID), "https://atlas.microsoft.com", srv.ManagedIdentities()[1]},
		{"user-assigned by resource id", mi.UserAssignedResourceID(emulator.NoRoleIdentityResourceID), "https://vault.azure.net", srv.ManagedIdentities()[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mi.New(tt.id, mi.WithHTTPClient(client))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.AcquireToken(t.Context(), tt.resource)
			if err != nil {
				t.Fatal(err)
			}
			checkIdentityToken(t, srv, got.AccessToken, tt.want, tt.resource)
		})
	}
	var imds []emulator.Request
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointManagedIdentity {
			imds = append(imds, r)
		}
	}
	if len(imds) != len(tests) || imds[0].Path != "/metadata/identity/oauth2/token" || imds[0].Query.Get("api-version") != "2018-02-01" {
		t.Errorf("IMDS requests %+v, want %d to /metadata/identity/oauth2/token", imds, len(tests))
	}
}

// identityGet calls a managed identity endpoint with plain net/http.
func identityGet(t *testing.T, srv *emulator.Server, path string, q url.Values, header http.Header) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+path+"?"+q.Encode(), nil)
	for k, v := range header {
		req.Header[k] = v
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

func TestManagedIdentityRefused(t *testing.T) {
	srv := start(t, emulator.Options{})
	imds := func(kv ...string) url.Values {
		q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://atlas.microsoft.com"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				q.Del(kv[i])
			} else {
				q.Set(kv[i], kv[i+1])
			}
		}
		return q
	}
	appService := func(kv ...string) url.Values {
		q := imds(kv...)
		if q.Get("api-version") == "2018-02-01" {
			q.Set("api-version", "2019-08-01")
		}
		return q
	}
	metadata := http.Header{"Metadata": {"true"}}
	identityHeader := http.Header{"X-Identity-Header": {srv.IdentityHeader()}}
	tests := []struct {
		name       string
		path       string
		q          url.Values
		header     http.Header
		wantStatus int
		wantText   string
	}{
		{"IMDS without Metadata: true", "/metadata/identity/oauth2/token", imds(), nil, 400, "Required metadata header not specified"},
		{"IMDS with Metadata: false", "/metadata/identity/oauth2/token", imds(), http.Header{"Metadata": {"false"}}, 400, "Required metadata header not specified"},
		{"IMDS without api-version", "/metadata/identity/oauth2/token", imds("api-version", ""), metadata, 400, "'api-version' is missing"},
		{"IMDS without resource", "/metadata/identity/oauth2/token", imds("resource", ""), metadata, 400, "'resource' is missing"},
		{"IMDS for an unknown resource", "/metadata/identity/oauth2/token", imds("resource", "https://graph.microsoft.com"), metadata, 400, "AADSTS500011"},
		{"IMDS for an unknown identity", "/metadata/identity/oauth2/token", imds("client_id", "0b1e6f2a-0000-4000-8000-000000000000"), metadata, 400, "Identity not found"},
		{"IMDS with two selectors", "/metadata/identity/oauth2/token", imds("client_id", emulator.ReporterIdentityClientID, "msi_res_id", emulator.ReporterIdentityResourceID), metadata, 400, "Only one of"},
		{"App Service without the header", "/msi/token", appService(), nil, 401, "X-IDENTITY-HEADER"},
		{"App Service with a wrong header", "/msi/token", appService(), http.Header{"X-Identity-Header": {"guessed"}}, 401, "X-IDENTITY-HEADER"},
		{"App Service with IMDS's api-version", "/msi/token", imds(), identityHeader, 400, "api-version '2018-02-01' is not supported"},
		{"App Service for an unknown identity", "/msi/token", appService("principal_id", "5e7a1c0d-0000-4000-8000-000000000000"), identityHeader, 400, "Identity not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := identityGet(t, srv, tt.path, tt.q, tt.header)
			if status != tt.wantStatus {
				t.Errorf("%d %v, want %d", status, body, tt.wantStatus)
			}
			text, _ := body["error_description"].(string)
			if m, ok := body["message"].(string); ok {
				text = m
			}
			if !strings.Contains(text, tt.wantText) {
				t.Errorf("%v does not say %q", body, tt.wantText)
			}
		})
	}
	t.Run("IMDS answers with strings", func(t *testing.T) {
		status, body, _ := identityGet(t, srv, "/metadata/identity/oauth2/token", imds("msi_res_id", emulator.ReporterIdentityResourceID), metadata)
		if status != 200 {
			t.Fatalf("%d %v", status, body)
		}
		for _, k := range []string{"expires_in", "expires_on", "not_before", "ext_expires_in"} {
			if _, ok := body[k].(string); !ok {
				t.Errorf("%s is %T, want a string", k, body[k])
			}
		}
		if body["client_id"] != emulator.ReporterIdentityClientID || body["msi_res_id"] != emulator.ReporterIdentityResourceID {
			t.Errorf("client_id %v, msi_res_id %v", body["client_id"], body["msi_res_id"])
		}
	})
	t.Run("App Service answers principal_id and client_id", func(t *testing.T) {
		status, body, _ := identityGet(t, srv, "/msi/token", appService("principal_id", emulator.ReporterIdentityPrincipalID), identityHeader)
		if status != 200 || body["client_id"] != emulator.ReporterIdentityClientID {
			t.Fatalf("%d %v", status, body)
		}
		if _, ok := body["expires_on"].(string); !ok {
			t.Errorf("expires_on is %T, want a string", body["expires_on"])
		}
	})
}

func TestArcChallenge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "azcmagent", "tokens")
	srv := start(t, emulator.Options{Arc: true, ArcTokenDir: dir})
	q := url.Values{"api-version": {"2020-06-01"}, "resource": {"https://atlas.microsoft.com"}, "msi_res_id": {emulator.ReporterIdentityResourceID}}
	metadata := http.Header{"Metadata": {"true"}}

	status, body, h := identityGet(t, srv, "/metadata/identity/oauth2/token", q, metadata)
	if status != 401 {
		t.Fatalf("first request: %d %v, want the 401 challenge", status, body)
	}
	path, ok := strings.CutPrefix(h.Get("WWW-Authenticate"), "Basic realm=")
	if !ok || filepath.Dir(path) != dir || !strings.HasSuffix(path, ".key") {
		t.Fatalf("WWW-Authenticate %q, want Basic realm=%s/<name>.key", h.Get("WWW-Authenticate"), dir)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the key file: %v", err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("the key file's mode is %v, want 0640: readable by group himds only", fi.Mode().Perm())
	}
	key, _ := os.ReadFile(path)

	withKey := http.Header{"Metadata": {"true"}, "Authorization": {"Basic " + string(key)}}
	status, body, _ = identityGet(t, srv, "/metadata/identity/oauth2/token", q, withKey)
	if status != 200 {
		t.Fatalf("with the key: %d %v", status, body)
	}
	checkIdentityToken(t, srv, body["access_token"].(string), srv.ManagedIdentities()[1], "https://atlas.microsoft.com")
	if body["msi_res_id"] != emulator.ReporterIdentityResourceID {
		t.Errorf("msi_res_id %v: Arc echoes the selector, and MSAL refuses a token without it", body["msi_res_id"])
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the key file is still there after its use: %v", err)
	}
	if status, body, _ := identityGet(t, srv, "/metadata/identity/oauth2/token", q, withKey); status != 401 {
		t.Errorf("the same key again: %d %v, want 401", status, body)
	}
	wrong := http.Header{"Metadata": {"true"}, "Authorization": {"Basic guessed"}}
	if status, body, _ := identityGet(t, srv, "/metadata/identity/oauth2/token", q, wrong); status != 401 {
		t.Errorf("a guessed key: %d %v, want 401", status, body)
	}
	if status, _, h := identityGet(t, srv, "/metadata/identity/oauth2/token", q, nil); status != 400 || h.Get("WWW-Authenticate") != "" {
		t.Errorf("without Metadata: true: %d, want 400 and no challenge", status)
	}

	// A key nobody came back for goes when the emulator does.
	identityGet(t, srv, "/metadata/identity/oauth2/token", q, metadata)
	srv.Close()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d key files left after Close", len(left))
	}
}

func TestArcChallengeCannotWriteKey(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, nil, 0o600)
	srv := start(t, emulator.Options{Arc: true, ArcTokenDir: filepath.Join(notADir, "tokens")})
	q := url.Values{"api-version": {"2020-06-01"}, "resource": {"https://atlas.microsoft.com"}}
	status, body, h := identityGet(t, srv, "/metadata/identity/oauth2/token", q, http.Header{"Metadata": {"true"}})
	desc, _ := body["error_description"].(string)
	if status != 500 || h.Get("WWW-Authenticate") != "" || !strings.Contains(desc, "cannot write the challenge key") {
		t.Errorf("%d %v, want 500 saying the key could not be written", status, body)
	}
}
