package emulator

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Managed identities get tokens from an endpoint of the host they run on:
// App Service's (IDENTITY_ENDPOINT with X-IDENTITY-HEADER), or IMDS on an
// Azure VM, which Azure Arc's agent mimics on a machine outside Azure and
// guards with a challenge: a key file only members of group himds can read.

// EndpointManagedIdentity is the App Service and IMDS/Arc token endpoints.
const EndpointManagedIdentity Endpoint = "managed-identity"

// DefaultArcTokenDir is where Azure Arc's agent writes challenge keys on
// Linux; MSAL accepts keys from nowhere else.
const DefaultArcTokenDir = "/var/opt/azcmagent/tokens"

const (
	appServiceAPIVersion = "2019-08-01"
	// arcKeyLife is how long an unanswered challenge key stays on disk.
	arcKeyLife = time.Minute
)

// arcKey is a challenge key waiting for its one use.
type arcKey struct {
	secret  string
	written time.Time
}

func (s *Server) identityRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /msi/token", EndpointManagedIdentity, s.appServiceToken)
	s.handle(mux, "GET /metadata/identity/oauth2/token", EndpointManagedIdentity, s.imdsToken)
}

// appServiceToken answers as App Service's identity endpoint, API version
// 2019-08-01: errors as {"statusCode","message"}, expires_on a string.
func (s *Server) appServiceToken(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": newGUID()})
	}
	got := r.Header.Get("X-IDENTITY-HEADER")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.apps.identityHeader)) != 1 {
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != appServiceAPIVersion {
		fail(http.StatusBadRequest, fmt.Sprintf("The api-version '%s' is not supported; use %s.", v, appServiceAPIVersion))
		return
	}
	mi, res, problem := s.identityRequest(q)
	if problem != "" {
		fail(http.StatusBadRequest, problem)
		return
	}
	now := time.Now()
	token, err := s.issueAppToken(principal{appID: mi.ClientID, oid: mi.PrincipalID, mirid: mi.ResourceID}, res, "2", now)
	if err != nil {
		fail(http.StatusInternalServerError, "The emulator could not sign a token.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_on":   strconv.FormatInt(now.Add(s.opts.AppTokenLifetime).Unix(), 10),
		"resource":     q.Get("resource"),
		"token_type":   "Bearer",
		"client_id":    mi.ClientID,
	})
}

// imdsToken answers as IMDS, or with Options.Arc as Azure Arc's agent,
// which first challenges a request that brings no key.
func (s *Server) imdsToken(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, name, desc string) {
		writeJSON(w, status, map[string]any{"error": name, "error_description": desc})
	}
	if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
		// IMDS lists this as bad_request_102.
		fail(http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") == "" {
		fail(http.StatusBadRequest, "invalid_request", "Required query variable 'api-version' is missing")
		return
	}
	if s.opts.Arc {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			s.arcChallenge(w)
			return
		}
		if !s.arcKeyOK(auth) {
			fail(http.StatusUnauthorized, "unauthorized_client", "The key in the Authorization header is wrong, used or expired.")
			return
		}
	}
	mi, res, problem := s.identityRequest(q)
	if problem != "" {
		fail(http.StatusBadRequest, "invalid_request", problem)
		return
	}
	now := time.Now()
	token, err := s.issueAppToken(principal{appID: mi.ClientID, oid: mi.PrincipalID, mirid: mi.ResourceID}, res, "2", now)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "The emulator could not sign a token.")
		return
	}
	lifetime := strconv.Itoa(int(s.opts.AppTokenLifetime.Seconds()))
	body := map[string]any{
		"access_token":   token,
		"client_id":      mi.ClientID,
		"expires_in":     lifetime,
		"expires_on":     strconv.FormatInt(now.Add(s.opts.AppTokenLifetime).Unix(), 10),
		"ext_expires_in": lifetime,
		"not_before":     strconv.FormatInt(now.Unix(), 10),
		"resource":       q.Get("resource"),
		"token_type":     "Bearer",
	}
	// Arc's agent echoes the selector of a user-assigned identity; MSAL
	// refuses a token without it.
	for _, k := range []string{"object_id", "msi_res_id", "mi_res_id", "principal_id"} {
		if v := q.Get(k); v != "" {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// identityRequest finds the identity (system-assigned unless a selector
// names a user-assigned one) and the resource a request asks for.
func (s *Server) identityRequest(q url.Values) (ManagedIdentity, resource, string) {
	raw := q.Get("resource")
	if raw == "" {
		return ManagedIdentity{}, resource{}, "Required query variable 'resource' is missing"
	}
	res, ok := findResource(raw)
	if !ok {
		return ManagedIdentity{}, resource{}, fmt.Sprintf(
			"AADSTS500011: The resource principal named %s was not found in the tenant named %s.", raw, s.opts.TenantID)
	}
	var selectors []string
	match := func(mi ManagedIdentity) bool { return mi.Kind == "system" }
	for _, k := range []string{"client_id", "object_id", "principal_id", "msi_res_id", "mi_res_id"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		selectors = append(selectors, k)
		switch k {
		case "client_id":
			match = func(mi ManagedIdentity) bool { return strings.EqualFold(mi.ClientID, v) }
		case "object_id", "principal_id":
			match = func(mi ManagedIdentity) bool { return strings.EqualFold(mi.PrincipalID, v) }
		default:
			match = func(mi ManagedIdentity) bool { return strings.EqualFold(mi.ResourceID, v) }
		}
	}
	if len(selectors) > 1 {
		return ManagedIdentity{}, resource{}, "Only one of " + strings.Join(selectors, ", ") + " may be given."
	}
	for _, mi := range s.apps.identities {
		if match(mi) {
			return mi, res, ""
		}
	}
	return ManagedIdentity{}, resource{}, "Identity not found"
}

// arcChallenge writes a one-use key that only readers of the token folder
// can see, and names it in a 401, as Azure Arc's agent does.
func (s *Server) arcChallenge(w http.ResponseWriter) {
	fail := func(err error) {
		writeJSON(w, http.StatusInternalServerError, map[string]any{
			"error": "server_error", "error_description": "cannot write the challenge key: " + err.Error()})
	}
	dir := s.opts.ArcTokenDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		fail(err)
		return
	}
	path := filepath.Join(dir, newGUID()+".key")
	secret := randomHex(32)
	if err := os.WriteFile(path, []byte(secret), 0o640); err != nil {
		fail(err)
		return
	}
	// The umask may have taken the group's read bit, which is the point.
	if err := os.Chmod(path, 0o640); err != nil {
		os.Remove(path)
		fail(err)
		return
	}
	now := time.Now()
	s.apps.mu.Lock()
	for p, k := range s.apps.arcKeys {
		if now.Sub(k.written) > arcKeyLife {
			os.Remove(p)
			delete(s.apps.arcKeys, p)
		}
	}
	s.apps.arcKeys[path] = arcKey{secret: secret, written: now}
	s.apps.mu.Unlock()
	w.Header().Set("WWW-Authenticate", "Basic realm="+path)
	writeJSON(w, http.StatusUnauthorized, map[string]any{
		"error": "unauthorized_client", "error_description": "Read the key file named in WWW-Authenticate and send its contents as Authorization: Basic."})
}

// arcKeyOK accepts "Basic <key file contents>" once, and deletes the file.
func (s *Server) arcKeyOK(auth string) bool {
	got, ok := strings.CutPrefix(auth, "Basic ")
	if !ok {
		return false
	}
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	for p, k := range s.apps.arcKeys {
		if subtle.ConstantTimeCompare([]byte(got), []byte(k.secret)) != 1 {
			continue
		}
		delete(s.apps.arcKeys, p)
		os.Remove(p)
		return time.Since(k.written) <= arcKeyLife
	}
	return false
}

// removeArcKeys deletes the keys no client came back for.
func (a *appState) removeArcKeys() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p := range a.arcKeys {
		os.Remove(p)
		delete(a.arcKeys, p)
	}
}
