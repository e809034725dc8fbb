package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
)

// Key Vault answers at {url}/kv/{vault}: Get Secret, with its 401
// challenge, role checks by object id and Key Vault's error bodies.

// The Key Vault endpoints.
const (
	EndpointKeyVault Endpoint = "keyvault"
	// EndpointControl is the emulator's own control calls.
	EndpointControl Endpoint = "control"
)

const (
	demoVault     = "demo"
	mapsKeySecret = "maps-key"
	vaultFile     = "keyvault.json"
)

// apiVersionOK accepts Key Vault's 7.x versions and the dated ones.
func apiVersionOK(v string) bool {
	if minor, ok := strings.CutPrefix(v, "7."); ok {
		return len(minor) == 1 && minor[0] >= '0' && minor[0] <= '9'
	}
	_, err := time.Parse("2006-01-02", strings.TrimSuffix(v, "-preview"))
	return err == nil
}

// secretVersion is one version of a secret; versions are never disabled
// or deleted here.
type secretVersion struct {
	Version string    `json:"version"`
	Value   string    `json:"value"`
	Created time.Time `json:"created"`
}

// vaultState is the vaults, their secrets and who may read them.
type vaultState struct {
	path    string
	readers map[string]map[string]bool // vault → object id → Key Vault Secrets User

	mu      sync.Mutex
	secrets map[string]map[string][]secretVersion // vault → name → versions, oldest first
}

// newVaultState loads the vaults and makes sure vault demo's maps-key
// holds the Maps account's primary key. Every vault named in a role
// assignment exists.
func newVaultState(stateDir string, assignees []assignee, primaryKey string) (*vaultState, error) {
	v := &vaultState{
		path:    filepath.Join(stateDir, vaultFile),
		readers: map[string]map[string]bool{demoVault: {}},
		secrets: map[string]map[string][]secretVersion{},
	}
	for _, a := range assignees {
		for _, name := range a.vaults {
			if v.readers[name] == nil {
				v.readers[name] = map[string]bool{}
			}
			v.readers[name][strings.ToLower(a.oid)] = true
		}
	}
	data, err := os.ReadFile(v.path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &v.secrets); err != nil {
			return nil, fmt.Errorf("%s: %w", vaultFile, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read vaults: %w", err)
	}
	if v.secrets[demoVault] == nil {
		v.secrets[demoVault] = map[string][]secretVersion{}
	}
	versions := v.secrets[demoVault][mapsKeySecret]
	if len(versions) == 0 || versions[len(versions)-1].Value != primaryKey {
		return v, v.addVersion(demoVault, mapsKeySecret, primaryKey)
	}
	return v, nil
}

// addVersion writes a new version of a secret and saves the vaults.
func (v *vaultState) addVersion(vault, name, value string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.secrets[vault] == nil {
		v.secrets[vault] = map[string][]secretVersion{}
	}
	v.secrets[vault][name] = append(v.secrets[vault][name],
		secretVersion{Version: randomHex(16), Value: value, Created: time.Now().UTC().Truncate(time.Second)})
	data, err := json.Marshal(v.secrets)
	if err != nil {
		return fmt.Errorf("encode vaults: %w", err)
	}
	if err := atomicfile.Write(v.path, data, 0o600); err != nil {
		return fmt.Errorf("write vaults: %w", err)
	}
	return nil
}

// find returns a version, the newest when version is empty.
func (v *vaultState) find(vault, name, version string) (secretVersion, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	versions := v.secrets[vault][name]
	if len(versions) == 0 {
		return secretVersion{}, false
	}
	if version == "" {
		return versions[len(versions)-1], true
	}
	for _, sv := range versions {
		if strings.EqualFold(sv.Version, version) {
			return sv, true
		}
	}
	return secretVersion{}, false
}

// VaultSecretURL is the secret in vault demo that holds the Maps
// account's primary key.
func (s *Server) VaultSecretURL() string {
	return s.url + "/kv/" + demoVault + "/secrets/" + mapsKeySecret
}

// RotateMapsKey makes a new primary key for the Maps account and writes
// it as a new version of the vault secret, as a rotation job would. The
// old primary key stops working at once.
func (s *Server) RotateMapsKey() error {
	// Holding the Maps lock across both means no caller sees the new key
	// refused or the old one still in the vault.
	s.maps.mu.Lock()
	defer s.maps.mu.Unlock()
	keys := s.maps.sharedKeys
	keys[0] = randomToken(32)
	if err := s.vault.addVersion(demoVault, mapsKeySecret, keys[0]); err != nil {
		return err
	}
	if err := saveSharedKeys(filepath.Join(s.stateDir, sharedKeysFile), keys); err != nil {
		return err
	}
	s.maps.sharedKeys = keys
	return nil
}

func (s *Server) vaultRoutes(mux *http.ServeMux) {
	s.handle(mux, "GET /kv/{vault}/secrets/{name}", EndpointKeyVault, s.getSecret)
	s.handle(mux, "GET /kv/{vault}/secrets/{name}/{version...}", EndpointKeyVault, s.getSecret)
	s.handle(mux, "POST /emulator/rotate-maps-key", EndpointControl, s.rotateMapsKey)
}

func (s *Server) rotateMapsKey(w http.ResponseWriter, _ *http.Request) {
	if err := s.RotateMapsKey(); err != nil {
		writeVaultError(w, http.StatusInternalServerError, "InternalError", err.Error(), "")
		return
	}
	sv, _ := s.vault.find(demoVault, mapsKeySecret, "")
	writeJSON(w, http.StatusOK, map[string]any{"id": s.VaultSecretURL() + "/" + sv.Version})
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) {
	vault, name, version := r.PathValue("vault"), r.PathValue("name"), r.PathValue("version")
	if _, ok := s.vault.readers[vault]; !ok {
		writeVaultError(w, http.StatusNotFound, "VaultNotFound", fmt.Sprintf("There is no vault '%s' in this emulator.", vault), "")
		return
	}
	if v := r.URL.Query().Get("api-version"); !apiVersionOK(v) {
		writeVaultError(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf(
			"The specified version (%s) is not recognized. Consider using the latest supported version (2025-07-01).", v), "")
		return
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		s.vaultChallenge(w, "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	claims, problem := s.checkAccessToken(raw)
	if problem != "" {
		s.vaultChallenge(w, "AKV10032: "+problem)
		return
	}
	if aud, _ := claims["aud"].(string); !strings.EqualFold(strings.TrimSuffix(aud, "/"), VaultAudience) {
		s.vaultChallenge(w, fmt.Sprintf("AKV10022: Invalid audience. Expected %s, found: %s.", VaultAudience, aud))
		return
	}
	oid, _ := claims["oid"].(string)
	if !s.vault.readers[vault][strings.ToLower(oid)] {
		appid, _ := claims["appid"].(string)
		writeVaultError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(
			"Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
				"Caller: appid=%s;oid=%s;iss=https://sts.windows.net/%s/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n"+
				"Resource: '/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s/secrets/%s'\r\nAssignment: (not found)\r\nDecisionReason: null\r\nVault: %s;location=emulator\r\n",
			appid, oid, s.opts.TenantID, SubscriptionID, strings.ToLower(ResourceGroup), vault, name, vault), "ForbiddenByRbac")
		return
	}
	sv, ok := s.vault.find(vault, name, version)
	if !ok {
		id := name
		if version != "" {
			id += "/" + version
		}
		writeVaultError(w, http.StatusNotFound, "SecretNotFound", fmt.Sprintf(
			"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", id), "")
		return
	}
	created := sv.Created.Unix()
	writeJSON(w, http.StatusOK, map[string]any{
		"value": sv.Value,
		"id":    s.url + "/kv/" + vault + "/secrets/" + name + "/" + sv.Version,
		"attributes": map[string]any{
			"enabled":         true,
			"created":         created,
			"updated":         created,
			"recoveryLevel":   "Recoverable+Purgeable",
			"recoverableDays": 90,
		},
		"tags": map[string]string{},
	})
}

// vaultChallenge answers 401 with the challenge that tells a client where
// to get a token and for which resource.
func (s *Server) vaultChallenge(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s", resource="%s"`, s.Authority(), VaultAudience))
	writeVaultError(w, http.StatusUnauthorized, "Unauthorized", message, "")
}

// writeVaultError answers in the shape Key Vault uses.
func writeVaultError(w http.ResponseWriter, status int, code, message, inner string) {
	body := map[string]any{"code": code, "message": message}
	if inner != "" {
		body["innererror"] = map[string]string{"code": inner}
	}
	writeJSON(w, status, map[string]any{"error": body})
}
