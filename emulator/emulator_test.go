package emulator_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start starts an emulator over TLS: the identity side is tested through
// the transport MSAL uses in production.
func start(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	return emulatortest.Start(t, opts)
}

func postForm(t *testing.T, srv *emulator.Server, path string, form url.Values, accept string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	json.Unmarshal(raw, &body)
	return resp.StatusCode, body, string(raw)
}

func deviceCode(t *testing.T, srv *emulator.Server) map[string]any {
	t.Helper()
	status, body, raw := postForm(t, srv, "/organizations/oauth2/v2.0/devicecode", url.Values{
		"client_id": {srv.ClientID()}, "scope": {emulator.MapsScope + " openid offline_access profile"},
	}, "")
	if status != 200 {
		t.Fatalf("devicecode: %d %s", status, raw)
	}
	return body
}

func poll(t *testing.T, srv *emulator.Server, dc map[string]any) (int, map[string]any) {
	t.Helper()
	status, body, _ := postForm(t, srv, "/organizations/oauth2/v2.0/token", url.Values{
		"client_id": {srv.ClientID()}, "grant_type": {"device_code"}, "device_code": {dc["device_code"].(string)},
		"scope": {emulator.MapsScope + " openid offline_access profile"},
	}, "")
	return status, body
}

func TestDeviceCodeResponseShape(t *testing.T) {
	srv := start(t, emulator.Options{Interval: 3 * time.Second, ExpiresIn: 10 * time.Minute})
	dc := deviceCode(t, srv)
	if dc["interval"] != float64(3) || dc["expires_in"] != float64(600) {
		t.Errorf("interval %v, expires_in %v", dc["interval"], dc["expires_in"])
	}
	if dc["verification_uri"] != srv.URL()+"/devicelogin" {
		t.Errorf("verification_uri %v", dc["verification_uri"])
	}
	if _, ok := dc["verification_uri_complete"]; ok {
		t.Error("verification_uri_complete sent, but Entra ID never sends it")
	}
	srv2 := start(t, emulator.Options{VerificationURIComplete: true})
	if dc := deviceCode(t, srv2); !strings.HasSuffix(dc["verification_uri_complete"].(string), "?code="+dc["user_code"].(string)) {
		t.Errorf("verification_uri_complete %v", dc["verification_uri_complete"])
	}
}

func TestPollingTooFastGetsSlowDown(t *testing.T) {
	srv := start(t, emulator.Options{Interval: 2 * time.Second})
	dc := deviceCode(t, srv)
	if status, body := poll(t, srv, dc); status != 400 || body["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", status, body["error"])
	}
	status, body := poll(t, srv, dc)
	if status != 400 || body["error"] != "slow_down" {
		t.Fatalf("second poll at once: %d %v, want 400 slow_down", status, body["error"])
	}
	// A poll a whole interval after the last one is fine again.
	time.Sleep(2100 * time.Millisecond)
	if _, body := poll(t, srv, dc); body["error"] != "authorization_pending" {
		t.Errorf("poll after the interval: %v, want authorization_pending", body["error"])
	}
	got := srv.Polls(dc["user_code"].(string))
	if len(got) != 3 || got[1].Result != "slow_down" {
		t.Errorf("poll log %+v", got)
	}
}

func TestTokenResponseAndJWKS(t *testing.T) {
	srv := start(t, emulator.Options{})
	dc := deviceCode(t, srv)
	if err := srv.Approve(dc["user_code"].(string), emulator.ReaderUser); err != nil {
		t.Fatal(err)
	}
	status, tok := poll(t, srv, dc)
	if status != 200 {
		t.Fatalf("poll after approval: %d %v", status, tok)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token", "client_info", "expires_in", "ext_expires_in"} {
		if tok[k] == nil {
			t.Errorf("token response lacks %s", k)
		}
	}
	if !strings.Contains(tok["scope"].(string), emulator.MapsScope) || tok["token_type"] != "Bearer" {
		t.Errorf("scope %v token_type %v", tok["scope"], tok["token_type"])
	}
	// Verify the access token with the key published at the JWKS endpoint.
	resp, err := srv.Client().Get(srv.Authority() + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct{ Kid, N, E string }
	}
	json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if len(jwks.Keys) != 1 {
		t.Fatalf("%d keys", len(jwks.Keys))
	}
	n, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok["access_token"].(string), claims, func(t *jwt.Token) (any, error) { return pub, nil })
	if err != nil {
		t.Fatalf("access token does not verify with the JWKS key: %v", err)
	}
	if parsed.Header["kid"] != jwks.Keys[0].Kid {
		t.Errorf("kid %v, want %v", parsed.Header["kid"], jwks.Keys[0].Kid)
	}
	want := map[string]any{
		"aud": emulator.MapsAudience, "scp": "user_impersonation", "tid": srv.TenantID(),
		"appid": srv.ClientID(), "upn": emulator.ReaderUser, "iss": "https://sts.windows.net/" + srv.TenantID() + "/",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	for _, k := range []string{"oid", "exp", "uti"} {
		if claims[k] == nil {
			t.Errorf("claim %s missing", k)
		}
	}
	// The code is used up: a second redemption fails.
	if status, body := poll(t, srv, dc); status != 400 || body["error"] != "expired_token" {
		t.Errorf("second redemption: %d %v", status, body["error"])
	}
}

func TestRefreshTokensRotate(t *testing.T) {
	srv := start(t, emulator.Options{})
	dc := deviceCode(t, srv)
	srv.Approve(dc["user_code"].(string), "")
	_, tok := poll(t, srv, dc)
	seen := map[string]bool{}
	uti := map[any]bool{}
	rt := tok["refresh_token"].(string)
	for range 3 {
		status, next, raw := postForm(t, srv, "/organizations/oauth2/v2.0/token", url.Values{
			"client_id": {srv.ClientID()}, "grant_type": {"refresh_token"}, "refresh_token": {rt},
			"scope": {emulator.MapsScope + " openid offline_access profile"},
		}, "")
		if status != 200 {
			t.Fatalf("refresh: %d %s", status, raw)
		}
		rt = next["refresh_token"].(string)
		if seen[rt] {
			t.Fatal("a refresh token came back twice")
		}
		seen[rt] = true
		claims, err := srv.VerifyAccessToken(next["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		uti[claims["uti"]] = true
	}
	if len(uti) != 3 {
		t.Errorf("access tokens minted in the same second share a uti")
	}
}

func TestEntraShapedErrors(t *testing.T) {
	srv := start(t, emulator.Options{})
	tests := []struct {
		name, path string
		form       url.Values
		wantErr    string
		wantCode   float64
	}{
		{"unknown client", "/organizations/oauth2/v2.0/devicecode",
			url.Values{"client_id": {"nope"}, "scope": {emulator.MapsScope}}, "unauthorized_client", 700016},
		{"unknown tenant", "/contoso.example/oauth2/v2.0/devicecode",
			url.Values{"client_id": {srv.ClientID()}, "scope": {emulator.MapsScope}}, "invalid_tenant", 90002},
		{"other resource", "/organizations/oauth2/v2.0/devicecode",
			url.Values{"client_id": {srv.ClientID()}, "scope": {"https://graph.microsoft.com/User.Read"}}, "invalid_scope", 70011},
		{"bad refresh token", "/organizations/oauth2/v2.0/token",
			url.Values{"client_id": {srv.ClientID()}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}, "scope": {emulator.MapsScope}}, "invalid_grant", 9002313},
		{"unsupported grant", "/organizations/oauth2/v2.0/token",
			url.Values{"client_id": {srv.ClientID()}, "grant_type": {"password"}}, "unsupported_grant_type", 70003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, raw := postForm(t, srv, tt.path, tt.form, "")
			if status != 400 || body["error"] != tt.wantErr {
				t.Fatalf("%d %s", status, raw)
			}
			codes, _ := body["error_codes"].([]any)
			if len(codes) != 1 || codes[0] != tt.wantCode {
				t.Errorf("error_codes %v, want [%v]", body["error_codes"], tt.wantCode)
			}
			desc, _ := body["error_description"].(string)
			if !strings.HasPrefix(desc, "AADSTS") || body["trace_id"] == nil || body["correlation_id"] == nil {
				t.Errorf("body is not Entra-shaped: %s", raw)
			}
		})
	}
}

func TestDeviceLoginFormContract(t *testing.T) {
	srv := start(t, emulator.Options{})
	json := "application/json"
	t.Run("approve as a named user", func(t *testing.T) {
		dc := deviceCode(t, srv)
		code := strings.ToLower(dc["user_code"].(string)) // people type in any case
		status, body, _ := postForm(t, srv, "/devicelogin", url.Values{"user_code": {code}, "action": {"approve"}, "user": {emulator.ReaderUser}}, json)
		if status != 200 || body["step"] != "approved" || body["user"] != emulator.ReaderUser {
			t.Fatalf("%d %v", status, body)
		}
		if _, tok := poll(t, srv, dc); tok["access_token"] == nil {
			t.Errorf("no token after approval: %v", tok)
		}
	})
	t.Run("approve defaults to the contributor", func(t *testing.T) {
		dc := deviceCode(t, srv)
		status, body, _ := postForm(t, srv, "/devicelogin", url.Values{"user_code": {dc["user_code"].(string)}, "action": {"approve"}}, json)
		if status != 200 || body["user"] != emulator.ContributorUser {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("deny", func(t *testing.T) {
		dc := deviceCode(t, srv)
		status, body, _ := postForm(t, srv, "/devicelogin", url.Values{"user_code": {dc["user_code"].(string)}, "action": {"deny"}}, json)
		if status != 200 || body["step"] != "denied" {
			t.Fatalf("%d %v", status, body)
		}
		if _, tok := poll(t, srv, dc); tok["error"] != "authorization_declined" {
			t.Errorf("poll after deny: %v", tok["error"])
		}
	})
	t.Run("wrong code", func(t *testing.T) {
		status, body, _ := postForm(t, srv, "/devicelogin", url.Values{"user_code": {"NOTACODE"}, "action": {"approve"}}, json)
		if status != 400 || body["error"] != "bad_code" || !strings.Contains(body["message"].(string), "wasn't recognised") {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		dc := deviceCode(t, srv)
		srv.Expire(dc["user_code"].(string))
		status, body, _ := postForm(t, srv, "/devicelogin", url.Values{"user_code": {dc["user_code"].(string)}, "action": {"approve"}}, json)
		if status != 400 || body["error"] != "expired_code" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("used code", func(t *testing.T) {
		dc := deviceCode(t, srv)
		srv.Approve(dc["user_code"].(string), "")
		status, body, _ := postForm(t, srv, "/devicelogin", url.Values{"user_code": {dc["user_code"].(string)}, "action": {"approve"}}, json)
		if status != 409 || body["error"] != "used_code" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("html for people", func(t *testing.T) {
		dc := deviceCode(t, srv)
		status, _, page := postForm(t, srv, "/devicelogin", url.Values{"user_code": {dc["user_code"].(string)}}, "")
		if status != 200 || !strings.Contains(page, "Access Azure Maps") || !strings.Contains(page, emulator.ReaderUser) {
			t.Fatalf("consent page %d lacks the permission or the users", status)
		}
		_, _, page = postForm(t, srv, "/devicelogin", url.Values{"user_code": {"WRONG"}}, "")
		if !strings.Contains(page, "Check the code on your device") {
			t.Error("the page does not explain a wrong code")
		}
	})
}

func TestAutoApprove(t *testing.T) {
	srv := start(t, emulator.Options{AutoApprove: 200 * time.Millisecond})
	dc := deviceCode(t, srv)
	time.Sleep(1200 * time.Millisecond)
	if status, tok := poll(t, srv, dc); status != 200 || tok["access_token"] == nil {
		t.Fatalf("auto-approved code did not give a token: %d %v", status, tok["error"])
	}
}

func TestFaultInjection(t *testing.T) {
	srv := start(t, emulator.Options{})
	srv.InjectFault(emulator.EndpointDeviceCode, emulator.Fault{Count: 2, Status: 503})
	srv.InjectFault(emulator.EndpointDeviceCode, emulator.Fault{Delay: 300 * time.Millisecond})
	form := url.Values{"client_id": {srv.ClientID()}, "scope": {emulator.MapsScope}}
	for i := range 2 {
		if status, body, _ := postForm(t, srv, "/organizations/oauth2/v2.0/devicecode", form, ""); status != 503 || body["error"] != "temporarily_unavailable" {
			t.Fatalf("request %d: %d %v", i, status, body)
		}
	}
	began := time.Now()
	if status, _, _ := postForm(t, srv, "/organizations/oauth2/v2.0/devicecode", form, ""); status != 200 {
		t.Fatalf("delayed request: %d", status)
	}
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("delay fault took %v", d)
	}
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointDeviceCode {
			n++
		}
	}
	if n != 3 {
		t.Errorf("request log has %d devicecode requests, want 3", n)
	}
}

func TestStatePersistsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	a := start(t, emulator.Options{StateDir: dir})
	dc := deviceCode(t, a)
	a.Approve(dc["user_code"].(string), "")
	_, tok := poll(t, a, dc)
	a.Close()
	b := start(t, emulator.Options{StateDir: dir})
	if _, err := b.VerifyAccessToken(tok["access_token"].(string)); err != nil {
		t.Errorf("the signing key changed across a restart: %v", err)
	}
	status, _, raw := postForm(t, b, "/organizations/oauth2/v2.0/token", url.Values{
		"client_id": {b.ClientID()}, "grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)},
		"scope": {emulator.MapsScope},
	}, "")
	if status != 200 {
		t.Errorf("refresh token from before the restart: %d %s", status, raw)
	}
}
