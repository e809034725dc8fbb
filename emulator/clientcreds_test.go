package emulator_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/mapsdevice/mapsdevice/emulator"
)

const (
	mapsDefault  = "https://atlas.microsoft.com/.default"
	vaultDefault = "https://vault.azure.net/.default"
	jwtBearer    = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// tokenRequest posts a token request to the emulator's tenant (or another
// path tenant) and returns the status and the decoded body.
func tokenRequest(t *testing.T, srv *emulator.Server, tenant string, form url.Values, basicUser, basicPass string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
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

// appToken gets an app token with a secret, failing the test otherwise.
func appToken(t *testing.T, srv *emulator.Server, clientID, secret, scope string) string {
	t.Helper()
	status, body, raw := tokenRequest(t, srv, srv.TenantID(), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope},
	}, "", "")
	if status != 200 {
		t.Fatalf("app token for %s: %d %s", clientID, status, raw)
	}
	return body["access_token"].(string)
}

// certApp reads daemon-cert's certificate and key with MSAL's own parser.
func certApp(t *testing.T, srv *emulator.Server) (string, []*x509.Certificate, crypto.PrivateKey) {
	t.Helper()
	id, pemPath, _, _ := srv.CertApp()
	data, err := os.ReadFile(pemPath)
	if err != nil {
		t.Fatal(err)
	}
	certs, key, err := confidential.CertFromPEM(data, "")
	if err != nil {
		t.Fatalf("MSAL cannot read %s: %v", pemPath, err)
	}
	return id, certs, key
}

// assertion is a client assertion to sign: its algorithm, which
// thumbprint header in which encoding, and its claims.
type assertion struct {
	alg    string // PS256 or RS256
	header string // x5t#S256 or x5t
	url    bool   // base64url instead of standard base64
	claims jwt.MapClaims
}

func (a assertion) sign(t *testing.T, cert *x509.Certificate, key crypto.PrivateKey) string {
	t.Helper()
	var thumb []byte
	if a.header == "x5t" {
		sum := sha1.Sum(cert.Raw)
		thumb = sum[:]
	} else {
		sum := sha256.Sum256(cert.Raw)
		thumb = sum[:]
	}
	enc := base64.StdEncoding.EncodeToString(thumb)
	if a.url {
		enc = base64.RawURLEncoding.EncodeToString(thumb)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(a.alg), a.claims)
	tok.Header = map[string]any{"alg": a.alg, "typ": "JWT", a.header: enc}
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// certClaims are the claims MSAL puts in an assertion, shifted in time.
func certClaims(srv *emulator.Server, clientID string, shift time.Duration) jwt.MapClaims {
	now := time.Now().Add(shift)
	return jwt.MapClaims{
		"aud": srv.Authority() + "/oauth2/v2.0/token", "iss": clientID, "sub": clientID,
		"jti": "x", "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// selfSigned makes a certificate the tenant has never seen.
func selfSigned(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// claimsOf reads a token's claims, checking it was signed by the emulator.
func claimsOf(t *testing.T, srv *emulator.Server, token string) jwt.MapClaims {
	t.Helper()
	claims, err := srv.VerifyAccessToken(token)
	if err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	return claims
}

func TestClientCredentialsAccepted(t *testing.T) {
	srv := start(t, emulator.Options{})
	secretID, secret := srv.SecretApp()
	certID, certs, key := certApp(t, srv)
	fic, err := srv.SignFederatedToken(emulator.FederatedSubject, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	assert := func(a assertion) url.Values {
		return url.Values{"client_assertion_type": {jwtBearer}, "client_assertion": {a.sign(t, certs[0], key)}}
	}
	v1 := certClaims(srv, certID, 0)
	v1["aud"] = srv.Authority() + "/oauth2/token"
	tests := []struct {
		name       string
		clientID   string
		form       url.Values
		basic      bool
		scope      string
		wantOID    string
		wantACR    string
		wantAud    string
		wantStatus int // of a Maps call with the token
	}{
		{"secret in the form", secretID, url.Values{"client_secret": {secret}}, false, mapsDefault, emulator.SecretAppObjectID, "1", emulator.MapsAudience, 200},
		{"secret by HTTP Basic", secretID, url.Values{}, true, mapsDefault, emulator.SecretAppObjectID, "1", emulator.MapsAudience, 200},
		{"MSAL's PS256 with x5t#S256 in base64", certID, assert(assertion{"PS256", "x5t#S256", false, certClaims(srv, certID, 0)}), false, mapsDefault, emulator.CertAppObjectID, "2", emulator.MapsAudience, 200},
		{"PS256 with x5t#S256 in base64url", certID, assert(assertion{"PS256", "x5t#S256", true, certClaims(srv, certID, 0)}), false, mapsDefault, emulator.CertAppObjectID, "2", emulator.MapsAudience, 200},
		{"RS256 with x5t in base64", certID, assert(assertion{"RS256", "x5t", false, certClaims(srv, certID, 0)}), false, mapsDefault, emulator.CertAppObjectID, "2", emulator.MapsAudience, 200},
		{"RS256 with x5t in base64url", certID, assert(assertion{"RS256", "x5t", true, certClaims(srv, certID, 0)}), false, mapsDefault, emulator.CertAppObjectID, "2", emulator.MapsAudience, 200},
		{"an assertion for the v1 endpoint", certID, assert(assertion{"PS256", "x5t#S256", false, v1}), false, mapsDefault, emulator.CertAppObjectID, "2", emulator.MapsAudience, 200},
		{"an assertion 4 minutes stale, within the skew", certID, assert(assertion{"PS256", "x5t#S256", false, certClaims(srv, certID, -14*time.Minute)}), false, mapsDefault, emulator.CertAppObjectID, "2", emulator.MapsAudience, 200},
		{"a federated token", emulator.FederatedAppID, url.Values{"client_assertion_type": {jwtBearer}, "client_assertion": {fic}}, false, mapsDefault, emulator.FederatedAppObjectID, "2", emulator.MapsAudience, 200},
		{"a token for Key Vault is no good on Maps", secretID, url.Values{"client_secret": {secret}}, false, vaultDefault, emulator.SecretAppObjectID, "1", emulator.VaultAudience, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := tt.form
			form.Set("grant_type", "client_credentials")
			form.Set("scope", tt.scope+" openid offline_access profile")
			user, pass := "", ""
			if tt.basic {
				user, pass = tt.clientID, secret
			} else {
				form.Set("client_id", tt.clientID)
			}
			status, body, raw := tokenRequest(t, srv, srv.TenantID(), form, user, pass)
			if status != 200 {
				t.Fatalf("%d %s", status, raw)
			}
			for _, k := range []string{"refresh_token", "id_token", "client_info"} {
				if _, ok := body[k]; ok {
					t.Errorf("an app token response has %s", k)
				}
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) {
				t.Errorf("token_type %v, expires_in %v", body["token_type"], body["expires_in"])
			}
			claims := claimsOf(t, srv, body["access_token"].(string))
			want := map[string]any{
				"aud": tt.wantAud, "iss": "https://sts.windows.net/" + srv.TenantID() + "/", "idtyp": "app",
				"appid": tt.clientID, "appidacr": tt.wantACR, "oid": tt.wantOID, "sub": tt.wantOID, "tid": srv.TenantID(), "ver": "1.0",
			}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			for _, k := range []string{"scp", "upn", "name"} {
				if _, ok := claims[k]; ok {
					t.Errorf("an app token has %s", k)
				}
			}
			if got := mapsGet(t, srv, body["access_token"].(string)); got != tt.wantStatus {
				t.Errorf("Maps answered the token %d, want %d", got, tt.wantStatus)
			}
		})
	}
}

// mapsGet lists map data with a bearer token and returns the status.
func mapsGet(t *testing.T, srv *emulator.Server, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.MapsEndpoint()+"/mapData?api-version=2.0", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("x-ms-client-id", srv.MapsClientID())
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestClientCredentialsRefused(t *testing.T) {
	const noRoleApp = "0b1e6f2a-6d61-4073-9de7-0000000000aa"
	srv := start(t, emulator.Options{Apps: []emulator.App{{
		Name: "old-secret", ClientID: noRoleApp,
		Secrets: []emulator.AppSecret{{Value: "old", Expires: time.Now().Add(-time.Hour)}, {Value: "current"}},
	}}})
	secretID, secret := srv.SecretApp()
	certID, certs, key := certApp(t, srv)
	strangerCert, strangerKey := selfSigned(t)
	signed := func(a assertion) string { return a.sign(t, certs[0], key) }
	ps256 := func(c jwt.MapClaims) assertion { return assertion{"PS256", "x5t#S256", false, c} }
	withClaim := func(k string, v any) jwt.MapClaims {
		c := certClaims(srv, certID, 0)
		c[k] = v
		return c
	}
	// A registered thumbprint over a signature by another key.
	forged := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodPS256, certClaims(srv, certID, 0))
		sum := sha256.Sum256(certs[0].Raw)
		tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
		s, _ := tok.SignedString(strangerKey)
		return s
	}()
	fic := func(subject string, lifetime time.Duration) string {
		s, err := srv.SignFederatedToken(subject, lifetime)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	foreignIssuer := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": "https://token.actions.githubusercontent.com", "sub": emulator.FederatedSubject,
			"aud": emulator.FederatedAudience, "exp": time.Now().Add(time.Hour).Unix()})
		s, _ := tok.SignedString(strangerKey)
		return s
	}()
	// The emulator's issuer, subject and audience right, but not its key.
	forgedFIC := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": srv.FederatedIssuer(), "sub": emulator.FederatedSubject,
			"aud": emulator.FederatedAudience, "exp": time.Now().Add(time.Hour).Unix()})
		s, _ := tok.SignedString(strangerKey)
		return s
	}()
	hs256 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, certClaims(srv, certID, 0))
		s, _ := tok.SignedString([]byte("shared"))
		return s
	}()
	byAssertion := func(id, a string) url.Values {
		return url.Values{"client_id": {id}, "client_assertion_type": {jwtBearer}, "client_assertion": {a}}
	}

	tests := []struct {
		name       string
		tenant     string
		form       url.Values
		wantStatus int
		wantErr    string
		wantCode   float64
		wantText   string
	}{
		{"wrong secret", "", url.Values{"client_id": {secretID}, "client_secret": {"a1b2c3d4-0000-4000-8000-000000000000"}},
			401, "invalid_client", 7000215, "not the client secret ID"},
		{"expired secret", "", url.Values{"client_id": {noRoleApp}, "client_secret": {"old"}},
			401, "invalid_client", 7000222, "are expired"},
		{"unknown app", "", url.Values{"client_id": {"0b1e6f2a-0000-4000-8000-000000000000"}, "client_secret": {secret}},
			400, "unauthorized_client", 700016, "was not found in the directory"},
		{"the public client has no secret", "", url.Values{"client_id": {srv.ClientID()}, "client_secret": {secret}},
			400, "unauthorized_client", 700016, "was not found in the directory"},
		{"no credential", "", url.Values{"client_id": {secretID}},
			401, "invalid_client", 7000218, "'client_assertion' or 'client_secret'"},
		{"multi-tenant alias", "organizations", url.Values{"client_id": {secretID}, "client_secret": {secret}},
			400, "invalid_request", 50059, "No tenant-identifying information"},
		{"common", "common", url.Values{"client_id": {secretID}, "client_secret": {secret}},
			400, "invalid_request", 50059, "No tenant-identifying information"},
		{"unknown resource", "", url.Values{"client_id": {secretID}, "client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}},
			400, "invalid_resource", 500011, "resource principal named https://graph.microsoft.com was not found"},
		{"a delegated scope", "", url.Values{"client_id": {secretID}, "client_secret": {secret}, "scope": {"https://atlas.microsoft.com/user_impersonation"}},
			400, "invalid_scope", 1002012, "/.default suffixed"},
		{"assertion by an unregistered certificate", "", byAssertion(certID, ps256(certClaims(srv, certID, 0)).sign(t, strangerCert, strangerKey)),
			401, "invalid_client", 700027, "The key was not found"},
		{"assertion with a registered thumbprint, signed by another key", "", byAssertion(certID, forged),
			401, "invalid_client", 700027, "did not match the expected signature"},
		{"assertion expired beyond the skew", "", byAssertion(certID, signed(ps256(certClaims(srv, certID, -16*time.Minute)))),
			401, "invalid_client", 700024, "not within its valid time range"},
		{"assertion not yet valid beyond the skew", "", byAssertion(certID, signed(ps256(certClaims(srv, certID, 6*time.Minute)))),
			401, "invalid_client", 700024, "not within its valid time range"},
		{"assertion without exp", "", byAssertion(certID, signed(ps256(withClaim("exp", nil)))),
			401, "invalid_client", 700024, "not within its valid time range"},
		{"assertion whose sub is another app", "", byAssertion(certID, signed(ps256(withClaim("sub", secretID)))),
			401, "invalid_client", 700021, "doesn't match 'client_id'"},
		{"assertion for another audience", "", byAssertion(certID, signed(ps256(withClaim("aud", "https://login.microsoftonline.com/"+srv.TenantID()+"/oauth2/v2.0/token")))),
			401, "invalid_client", 700023, "audience claim does not match"},
		{"assertion signed with HS256", "", byAssertion(certID, hs256),
			400, "invalid_request", 5002738, "not a supported signature algorithm"},
		{"wrong assertion type", "", url.Values{"client_id": {certID}, "client_assertion_type": {"jwt"}, "client_assertion": {signed(ps256(certClaims(srv, certID, 0)))}},
			400, "invalid_request", 50027, "client_assertion_type"},
		{"federated token for another subject", "", byAssertion(emulator.FederatedAppID, fic("system:serviceaccount:default:other", time.Hour)),
			401, "unauthorized_client", 70021, "Assertion Subject: 'system:serviceaccount:default:other'"},
		{"federated token from an issuer the app does not trust", "", byAssertion(emulator.FederatedAppID, foreignIssuer),
			401, "unauthorized_client", 70021, "Assertion Issuer: 'https://token.actions.githubusercontent.com'"},
		{"federated token to an app without federated credentials", "", byAssertion(secretID, fic(emulator.FederatedSubject, time.Hour)),
			401, "unauthorized_client", 70021, "No matching federated identity record"},
		{"federated token not signed by the issuer", "", byAssertion(emulator.FederatedAppID, forgedFIC),
			401, "invalid_client", 700027, "failed signature validation"},
		{"federated token expired beyond the skew", "", byAssertion(emulator.FederatedAppID, fic(emulator.FederatedSubject, -6*time.Minute)),
			401, "invalid_client", 700024, "not within its valid time range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.form.Get("scope") == "" {
				tt.form.Set("scope", mapsDefault)
			}
			tt.form.Set("grant_type", "client_credentials")
			tenant := tt.tenant
			if tenant == "" {
				tenant = srv.TenantID()
			}
			status, body, raw := tokenRequest(t, srv, tenant, tt.form, "", "")
			if status != tt.wantStatus || body["error"] != tt.wantErr {
				t.Fatalf("%d %s, want %d %s", status, raw, tt.wantStatus, tt.wantErr)
			}
			codes, _ := body["error_codes"].([]any)
			if len(codes) != 1 || codes[0] != tt.wantCode {
				t.Errorf("error_codes %v, want [%v]", body["error_codes"], tt.wantCode)
			}
			desc, _ := body["error_description"].(string)
			if !strings.HasPrefix(desc, "AADSTS") || !strings.Contains(desc, tt.wantText) {
				t.Errorf("error_description %q, want AADSTS… with %q", desc, tt.wantText)
			}
			for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
				if body[k] == nil {
					t.Errorf("no %s", k)
				}
			}
		})
	}
	t.Run("a secret by HTTP Basic and in the form", func(t *testing.T) {
		status, body, raw := tokenRequest(t, srv, srv.TenantID(), url.Values{
			"grant_type": {"client_credentials"}, "client_secret": {secret}, "scope": {mapsDefault}}, secretID, secret)
		if status != 400 || body["error"] != "invalid_request" {
			t.Errorf("%d %s", status, raw)
		}
	})
	t.Run("an app without a role is refused by Maps", func(t *testing.T) {
		if got := mapsGet(t, srv, appToken(t, srv, noRoleApp, "current", mapsDefault)); got != 403 {
			t.Errorf("Maps answered %d, want 403", got)
		}
	})
}

// newConfidential is MSAL's confidential client for an app, over the
// emulator's TLS transport.
func newConfidential(t *testing.T, srv *emulator.Server, clientID string, cred confidential.Credential) confidential.Client {
	t.Helper()
	c, err := confidential.New(srv.Authority(), clientID, cred, confidential.WithHTTPClient(srv.Client()),
		confidential.WithInstanceDiscovery(false), confidential.WithAzureRegion("DisableMsalForceRegion"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenRequests counts the requests to the token endpoint so far.
func tokenRequests(srv *emulator.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointToken {
			n++
		}
	}
	return n
}

func TestMSALConfidentialClient(t *testing.T) {
	srv := start(t, emulator.Options{})
	secretID, secret := srv.SecretApp()
	certID, certs, key := certApp(t, srv)
	_, _, pfxPath, pfxPassword := srv.CertApp()
	pfx, err := os.ReadFile(pfxPath)
	if err != nil {
		t.Fatal(err)
	}
	pfxKey, pfxCert, _, err := pkcs12.DecodeChain(pfx, pfxPassword)
	if err != nil {
		t.Fatalf("daemon-cert.pfx does not decode: %v", err)
	}
	fromSecret, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	fromPEM, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		t.Fatal(err)
	}
	fromPFX, err := confidential.NewCredFromCert([]*x509.Certificate{pfxCert}, pfxKey)
	if err != nil {
		t.Fatal(err)
	}
	fromFIC := confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
		return srv.SignFederatedToken(emulator.FederatedSubject, 10*time.Minute)
	})
	tests := []struct {
		name     string
		clientID string
		cred     confidential.Credential
		wantACR  string
	}{
		{"secret", secretID, fromSecret, "1"},
		{"certificate from PEM", certID, fromPEM, "2"},
		{"certificate from the OpenSSL 3 style PFX", certID, fromPFX, "2"},
		{"federated token", srv.FederatedApp(), fromFIC, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConfidential(t, srv, tt.clientID, tt.cred)
			before := tokenRequests(srv)
			first, err := c.AcquireTokenByCredential(t.Context(), []string{mapsDefault})
			if err != nil {
				t.Fatalf("first token: %v", err)
			}
			second, err := c.AcquireTokenByCredential(t.Context(), []string{mapsDefault})
			if err != nil {
				t.Fatalf("second token: %v", err)
			}
			if first.Metadata.TokenSource != confidential.TokenSourceIdentityProvider || second.Metadata.TokenSource != confidential.TokenSourceCache {
				t.Errorf("token sources %v then %v, want the network then the cache", first.Metadata.TokenSource, second.Metadata.TokenSource)
			}
			if got := tokenRequests(srv) - before; got != 1 {
				t.Errorf("%d token requests for two tokens, want 1", got)
			}
			claims := claimsOf(t, srv, first.AccessToken)
			if claims["appidacr"] != tt.wantACR || claims["appid"] != tt.clientID || claims["idtyp"] != "app" {
				t.Errorf("claims %v", claims)
			}
			if got := mapsGet(t, srv, first.AccessToken); got != 200 {
				t.Errorf("Maps answered %d", got)
			}
		})
	}
}

func TestMSALConfidentialClientRefused(t *testing.T) {
	srv := start(t, emulator.Options{})
	secretID, secret := srv.SecretApp()
	certID, _, _ := certApp(t, srv)
	strangerCert, strangerKey := selfSigned(t)
	wrong, _ := confidential.NewCredFromSecret("Abc8Q~not-the-secret")
	right, _ := confidential.NewCredFromSecret(secret)
	stranger, _ := confidential.NewCredFromCert([]*x509.Certificate{strangerCert}, strangerKey)
	tests := []struct {
		name     string
		clientID string
		cred     confidential.Credential
		before   func()
		want     string
	}{
		{"wrong secret", secretID, wrong, nil, "AADSTS7000215"},
		{"unknown app", "0b1e6f2a-0000-4000-8000-000000000001", right, nil, "AADSTS700016"},
		{"certificate not registered", certID, stranger, nil, "AADSTS700027"},
		{"expired secret", secretID, right, func() {
			if err := srv.ExpireAppSecrets(secretID); err != nil {
				t.Fatal(err)
			}
		}, "AADSTS7000222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			c := newConfidential(t, srv, tt.clientID, tt.cred)
			_, err := c.AcquireTokenByCredential(t.Context(), []string{mapsDefault})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %s", err, tt.want)
			}
		})
	}
}

func TestDaemonCredentialsSurviveRestarts(t *testing.T) {
	dir := t.TempDir()
	a := start(t, emulator.Options{StateDir: dir})
	_, secret := a.SecretApp()
	_, pemPath, _, password := a.CertApp()
	pemBefore, _ := os.ReadFile(pemPath)
	a.Close()
	b := start(t, emulator.Options{StateDir: dir})
	_, secret2 := b.SecretApp()
	_, pemPath2, pfxPath, password2 := b.CertApp()
	pemAfter, _ := os.ReadFile(pemPath2)
	if secret2 != secret || password2 != password || string(pemAfter) != string(pemBefore) {
		t.Error("daemon credentials changed across a restart")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "daemon-secret.txt")); string(got) != secret {
		t.Errorf("daemon-secret.txt holds %q, want the secret with no newline", got)
	}
	if _, err := os.Stat(pfxPath); err != nil {
		t.Error(err)
	}
	appToken(t, b, emulator.SecretAppID, secret, mapsDefault)
}
