package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/keyvault"
)

// TestAppFailuresExplained: every failure of an app credential, managed
// identity or Key Vault gets its code, exit code and the fix.
func TestAppFailuresExplained(t *testing.T) {
	app := settings{ClientID: "app", Cred: credentialFlags{Kind: auth.CredentialClientCertificate}}
	kindErr := func(k auth.Kind, err error) error { return &auth.Error{Kind: k, Reason: "it failed", Err: err} }
	tests := []struct {
		err  error
		code string
		exit int
		fix  string
	}{
		{kindErr(auth.KindTenantRequired, nil), "tenant_required", ExitUsage, "--tenant"},
		{kindErr(auth.KindCredential, auth.ErrNoSecret), "bad_credential", ExitUsage, "LoadCredential=client-secret"},
		{kindErr(auth.KindCredential, auth.ErrNotRSA), "bad_credential", ExitUsage, "openssl req -x509 -newkey rsa:2048"},
		{kindErr(auth.KindCredential, auth.ErrEncryptedPEM), "bad_credential", ExitUsage, "openssl pkcs8 -topk8 -nocrypt"},
		{kindErr(auth.KindCredential, auth.ErrWrongPassword), "bad_credential", ExitUsage, "--client-certificate-password-file"},
		{kindErr(auth.KindCredential, auth.ErrKeyMismatch), "bad_credential", ExitUsage, "its own key"},
		{kindErr(auth.KindBadSecret, nil), "invalid_secret", ExitError, "Value, not its Secret ID"},
		{kindErr(auth.KindSecretExpired, nil), "secret_expired", ExitError, "new secret"},
		{kindErr(auth.KindCertificateNotRegistered, nil), "certificate_not_registered", ExitError, "--send-certificate-chain"},
		{kindErr(auth.KindClock, nil), "clock", ExitError, "time-sync.target"},
		{kindErr(auth.KindBadAssertion, nil), "invalid_assertion", ExitError, "--client-id"},
		{kindErr(auth.KindFederationMismatch, nil), "federation_mismatch", ExitError, "api://AzureADTokenExchange"},
		{kindErr(auth.KindResourceNotFound, nil), "resource_not_found", ExitError, "subscription of this tenant"},
		{kindErr(auth.KindManagedIdentity, nil), "managed_identity", ExitError, "Azure Arc-enabled"},
		{kindErr(auth.KindArcAccess, nil), "arc_access", ExitError, "group himds"},
		{&keyvault.Error{Status: 403, Code: "Forbidden", Inner: "ForbiddenByRbac", Secret: "s"}, "vault_forbidden", ExitError, `"Key Vault Secrets User"`},
		{&keyvault.Error{Status: 403, Code: "Forbidden", Message: "Client address is not authorized", Secret: "s"}, "vault_forbidden", ExitError, "firewall"},
		{&keyvault.Error{Status: 404, Code: "SecretNotFound", Secret: "s"}, "vault_not_found", ExitError, "--maps-key-from-vault"},
		{fmt.Errorf("get key: %w", keyvault.ErrChallenge), "vault_challenge", ExitError, "No token was sent"},
		{auth.ErrNoClientID, "no_client_id", ExitUsage, "Daemons and services"},
	}
	for _, tt := range tests {
		t.Run(tt.code+" "+tt.fix, func(t *testing.T) {
			ee := explain(tt.err, "mapsdevice token", app)
			if ee.errCode != tt.code || ee.code != tt.exit || !strings.Contains(ee.msg, tt.fix) {
				t.Errorf("got %s (exit %d):\n%s\nwant %s (exit %d) saying %q", ee.errCode, ee.code, ee.msg, tt.code, tt.exit, tt.fix)
			}
		})
	}
}
