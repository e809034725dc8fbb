package emulator

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The client credentials grant: a daemon app proves itself with a secret,
// a certificate-signed assertion or a federated token, and gets an app
// token shaped as Entra ID's v1 app tokens are.

const (
	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionSkew is the clock skew Entra ID allows a client assertion.
	assertionSkew = 5 * time.Minute
	certDocs      = " Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
)

// resource is a service the tenant issues tokens for.
type resource struct {
	uri       string // as scopes and resource= name it, without a trailing slash
	aud       string // the aud claim of its tokens
	delegated bool   // users may get tokens for it by device code
}

// VaultAudience is the aud claim of access tokens for Key Vault.
const VaultAudience = "https://vault.azure.net"

// findResource knows Azure Maps, Key Vault, Storage and Event Hubs.
func findResource(uri string) (resource, bool) {
	switch strings.ToLower(strings.TrimSuffix(uri, "/")) {
	case "https://atlas.microsoft.com":
		return resource{uri: "https://atlas.microsoft.com", aud: MapsAudience, delegated: true}, true
	case VaultAudience:
		return resource{uri: VaultAudience, aud: VaultAudience, delegated: true}, true
	case "https://storage.azure.com":
		return resource{uri: "https://storage.azure.com", aud: "https://storage.azure.com", delegated: true}, true
	case "https://eventhubs.azure.net":
		return resource{uri: "https://eventhubs.azure.net", aud: "https://eventhubs.azure.net", delegated: true}, true
	}
	return resource{}, false
}

// principal is who an app token speaks for: an app's service principal
// or a managed identity.
type principal struct {
	appID string
	oid   string
	mirid string // a managed identity's resource id
}

func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("tenant"), s.opts.TenantID) {
		writeError(w, http.StatusBadRequest, "invalid_request", 50059,
			"No tenant-identifying information found in either the request or implied by any provided credentials.")
		return
	}
	clientID, secret, problem := clientAuth(r)
	if problem != "" {
		writeError(w, http.StatusBadRequest, "invalid_request", 900144, problem)
		return
	}
	app, ok := s.apps.app(clientID)
	if !ok {
		s.unknownApp(w, clientID)
		return
	}
	now := time.Now()
	acr := "1"
	switch assertion := r.PostForm.Get("client_assertion"); {
	case secret != "":
		if !s.checkSecret(w, app, secret, now) {
			return
		}
	case assertion != "":
		if !s.checkAssertion(w, app, r.PostForm.Get("client_assertion_type"), assertion, now) {
			return
		}
		acr = "2"
	default:
		writeError(w, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	res, ok := appScope(w, r.PostForm.Get("scope"), s.opts.TenantID)
	if !ok {
		return
	}
	token, err := s.issueAppToken(principal{appID: app.ClientID, oid: app.ObjectID}, res, acr, now)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", 0, "The emulator could not sign a token.")
		return
	}
	lifetime := int(s.opts.AppTokenLifetime.Seconds())
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     lifetime,
		"ext_expires_in": lifetime,
		"access_token":   token,
	})
}

// clientAuth reads the client id and secret from the form or from HTTP
// Basic, whose parts are form-encoded (RFC 6749 §2.3.1).
func clientAuth(r *http.Request) (clientID, secret, problem string) {
	clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		switch {
		case err1 != nil || err2 != nil:
			return "", "", "The Authorization header is not valid HTTP Basic client authentication."
		case secret != "" || (clientID != "" && clientID != u):
			return "", "", "The request authenticates the client twice: use HTTP Basic or the client_secret parameter, not both."
		}
		clientID, secret = u, p
	}
	if clientID == "" {
		return "", "", "The request body must contain the following parameter: 'client_id'."
	}
	return clientID, secret, ""
}

func (s *Server) unknownApp(w http.ResponseWriter, clientID string) {
	writeError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
		clientID, s.opts.TenantID))
}

// appScope wants one resource's .default scope, beside any OIDC scopes.
func appScope(w http.ResponseWriter, raw, tenant string) (resource, bool) {
	var asked []string
	for _, sc := range strings.Fields(raw) {
		if !slices.Contains(oidcScopes, sc) {
			asked = append(asked, sc)
		}
	}
	if len(asked) != 1 {
		writeError(w, http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf(
			"The provided value for the input parameter 'scope' is not valid: '%s'. Ask for one resource's /.default scope.", raw))
		return resource{}, false
	}
	uri, ok := strings.CutSuffix(asked[0], "/.default")
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", asked[0]))
		return resource{}, false
	}
	res, ok := findResource(uri)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
			uri, tenant))
		return resource{}, false
	}
	return res, true
}

func (s *Server) checkSecret(w http.ResponseWriter, app *App, secret string, now time.Time) bool {
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	for _, sec := range app.Secrets {
		if subtle.ConstantTimeCompare([]byte(sec.Value), []byte(secret)) != 1 {
			continue
		}
		if !sec.Expires.IsZero() && now.After(sec.Expires) {
			writeError(w, http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf(
				"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
				app.ClientID))
			return false
		}
		return true
	}
	writeError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
		app.ClientID))
	return false
}

// checkAssertion checks a client assertion as Entra ID does: signed by a
// certificate registered on the app (iss = sub = client id), or a token
// from a federated issuer the app trusts.
func (s *Server) checkAssertion(w http.ResponseWriter, app *App, kind, raw string, now time.Time) bool {
	if kind != jwtBearer {
		writeError(w, http.StatusBadRequest, "invalid_request", 50027, fmt.Sprintf(
			"JWT token is invalid or malformed: client_assertion_type '%s' is not supported; use '%s'.", kind, jwtBearer))
		return false
	}
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed.")
		return false
	}
	alg, _ := tok.Header["alg"].(string)
	if alg != "PS256" && alg != "RS256" {
		writeError(w, http.StatusBadRequest, "invalid_request", 5002738, fmt.Sprintf(
			"Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'.", alg))
		return false
	}
	if iss, _ := claims.GetIssuer(); iss != app.ClientID {
		return s.checkFederated(w, app, raw, claims, now)
	}
	return s.checkCertAssertion(w, app, raw, alg, tok.Header, claims, now)
}

func (s *Server) checkCertAssertion(w http.ResponseWriter, app *App, raw, alg string, header map[string]any, claims jwt.MapClaims, now time.Time) bool {
	thumb, cert := app.certificateFor(header)
	if cert == nil {
		writeError(w, http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
			"Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]",
			thumb, app.ClientID))
		return false
	}
	_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{alg}), jwt.WithoutClaimsValidation())
	if err != nil {
		writeError(w, http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
			"Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
			thumb, cert.NotBefore.UTC().Format("01/02/2006 15:04:05"), cert.NotAfter.UTC().Format("01/02/2006 15:04:05")))
		return false
	}
	if sub, _ := claims.GetSubject(); sub != app.ClientID {
		writeError(w, http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter."+certDocs)
		return false
	}
	aud, _ := claims.GetAudience()
	if !slices.ContainsFunc(aud, s.isTokenEndpoint) {
		writeError(w, http.StatusUnauthorized, "invalid_client", 700023,
			"Client assertion audience claim does not match Realm issuer."+certDocs)
		return false
	}
	return assertionInTime(w, claims, now)
}

// certificateFor finds the registered certificate the assertion names by
// x5t#S256 or x5t, either in base64 or base64url; it returns the
// thumbprint as Entra ID prints it.
func (a *App) certificateFor(header map[string]any) (string, *x509.Certificate) {
	for _, name := range []string{"x5t#S256", "x5t"} {
		v, _ := header[name].(string)
		if v == "" {
			continue
		}
		want, err := decodeBase64Either(v)
		if err != nil {
			return v, nil
		}
		thumb := strings.ToUpper(fmt.Sprintf("%x", want))
		for _, c := range a.Certificates {
			var got []byte
			if name == "x5t" {
				sum := sha1.Sum(c.Raw)
				got = sum[:]
			} else {
				sum := sha256.Sum256(c.Raw)
				got = sum[:]
			}
			if subtle.ConstantTimeCompare(got, want) == 1 {
				return thumb, c
			}
		}
		return thumb, nil
	}
	return "", nil
}

// decodeBase64Either reads standard base64 and base64url, padded or not:
// MSAL sends the one, the JOSE specs the other.
func decodeBase64Either(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// isTokenEndpoint says whether aud names this tenant's token endpoint, v2
// or v1, as a client assertion's audience must.
func (s *Server) isTokenEndpoint(aud string) bool {
	base := s.url + "/" + s.opts.TenantID
	return strings.EqualFold(aud, base+"/oauth2/v2.0/token") || strings.EqualFold(aud, base+"/oauth2/token")
}

// checkFederated accepts a token from the emulator's federated issuer
// whose subject and audience match one of the app's federated credentials.
func (s *Server) checkFederated(w http.ResponseWriter, app *App, raw string, claims jwt.MapClaims, now time.Time) bool {
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	aud, _ := claims.GetAudience()
	matched := iss == s.FederatedIssuer() && slices.ContainsFunc(app.FederatedCredentials, func(fc FederatedCredential) bool {
		return fc.Subject == sub && slices.Contains(aud, fc.Audience)
	})
	if !matched {
		writeError(w, http.StatusUnauthorized, "unauthorized_client", 70021, fmt.Sprintf(
			"No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
			iss, sub, strings.Join(aud, ",")))
		return false
	}
	fic := s.apps.fic
	_, err := jwt.Parse(raw, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != fic.kid {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return &fic.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		writeError(w, http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
			"Client assertion failed signature validation: the key is not among those %s publishes.", iss))
		return false
	}
	return assertionInTime(w, claims, now)
}

// assertionInTime wants exp, and nbf if present, within 5 minutes of now.
func assertionInTime(w http.ResponseWriter, claims jwt.MapClaims, now time.Time) bool {
	exp, _ := claims.GetExpirationTime()
	nbf, _ := claims.GetNotBefore()
	from := time.Time{}
	if nbf != nil {
		from = nbf.Time
	} else if iat, _ := claims.GetIssuedAt(); iat != nil {
		from = iat.Time
	}
	late := exp == nil || now.After(exp.Add(assertionSkew))
	early := !from.IsZero() && now.Before(from.Add(-assertionSkew))
	if !late && !early {
		return true
	}
	const layout = "2006-01-02T15:04:05.0000000Z"
	until := "(none)"
	if exp != nil {
		until = exp.UTC().Format(layout)
	}
	writeError(w, http.StatusUnauthorized, "invalid_client", 700024, fmt.Sprintf(
		"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s."+certDocs,
		now.UTC().Format(layout), from.UTC().Format(layout), until))
	return false
}

// issueAppToken signs an access token for a service principal, shaped as
// Entra ID's v1 app tokens: idtyp app, appidacr, oid of the principal, no
// scp. acr is "1" for a secret and "2" for a certificate or assertion.
func (s *Server) issueAppToken(p principal, res resource, acr string, now time.Time) (string, error) {
	tid := s.opts.TenantID
	uti := randomToken(16)
	claims := jwt.MapClaims{
		"aud":      res.aud,
		"iss":      "https://sts.windows.net/" + tid + "/",
		"idp":      "https://sts.windows.net/" + tid + "/",
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      now.Add(s.opts.AppTokenLifetime).Unix(),
		"appid":    p.appID,
		"appidacr": acr,
		"idtyp":    "app",
		"oid":      p.oid,
		"sub":      p.oid,
		"tid":      tid,
		"uti":      uti,
		"ver":      "1.0",
	}
	if p.mirid != "" {
		claims["xms_mirid"] = p.mirid
	}
	token, err := s.sign(claims)
	if err != nil {
		return "", err
	}
	s.id.mu.Lock()
	s.id.issuedAt[uti] = time.Now()
	s.id.mu.Unlock()
	return token, nil
}
