package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/keyvault"
)

// explainApp says what to do about the failures of app credentials and
// managed identities, each with its fix.
func explainApp(ae *auth.Error, s settings) *exitError {
	what := capitalize(ae.Error())
	fail := func(code, next string) *exitError {
		return &exitError{code: ExitError, errCode: code, msg: what + ".\n" + next}
	}
	switch ae.Kind {
	case auth.KindTenantRequired:
		return &exitError{code: ExitUsage, errCode: "tenant_required", msg: what + ".\n" +
			"Set --tenant (MAPSDEVICE_TENANT) to the tenant's id or domain, such as contoso.onmicrosoft.com,\n" +
			"or --authority to https://login.microsoftonline.com/TENANT."}
	case auth.KindCredential:
		return &exitError{code: ExitUsage, errCode: "bad_credential", msg: what + ".\n" + credentialFix(ae)}
	case auth.KindBadSecret:
		return fail("invalid_secret", "Entra ID wants the secret's Value, not its Secret ID: the app registration's\n"+
			"Certificates & secrets page shows the Value only once, when the secret is made.\n"+
			"Put the Value in the secret file (read again without a restart), or make a new secret.")
	case auth.KindSecretExpired:
		return fail("secret_expired", "Make a new secret under the app registration's Certificates & secrets and\n"+
			"put its Value in the secret file; a running reporter reads it again by itself.")
	case auth.KindCertificateNotRegistered:
		return fail("certificate_not_registered", "Upload the certificate (its public part only) under the app registration's\n"+
			"Certificates & secrets, or, for an app that trusts a subject name and issuer,\n"+
			"add --send-certificate-chain.")
	case auth.KindClock:
		return fail("clock", fmt.Sprintf("This device's clock reads %s. Signing in as an app needs it within\n"+
			"5 minutes of the real time: check time sync ('timedatectl status'). The systemd\n"+
			"unit starts after time-sync.target.", time.Now().UTC().Format(time.RFC3339)))
	case auth.KindBadAssertion:
		return fail("invalid_assertion", fmt.Sprintf("Check --client-id (%q) and --tenant or --authority: the assertion must\n"+
			"name this app, and the tenant's token endpoint.", s.ClientID))
	case auth.KindFederationMismatch:
		return fail("federation_mismatch", "Add a federated credential to the app registration whose issuer and subject\n"+
			"match the token in --federated-token-file, with audience api://AzureADTokenExchange.")
	case auth.KindResourceNotFound:
		return fail("resource_not_found", "The tenant has no service principal for the resource asked for. For Azure\n"+
			"Maps, create the Maps account in a subscription of this tenant; check --tenant.")
	case auth.KindArcAccess:
		return fail("arc_access", "Add this service's user to the group himds, which may read the Azure Arc\n"+
			"agent's tokens (sudo usermod -aG himds USER, or SupplementaryGroups=himds in\n"+
			"the systemd unit), then start it again.")
	default: // KindManagedIdentity
		return fail("managed_identity", "Managed identities exist on Azure (virtual machines, App Service, Container\n"+
			"Apps) and on Azure Arc-enabled machines. Give the machine an identity with\n"+
			"the role it needs, or elsewhere use --credential client-certificate.")
	}
}

// credentialFix says how to fix a secret or certificate that cannot be
// used.
func credentialFix(ae *auth.Error) string {
	switch {
	case errors.Is(ae, auth.ErrNoSecret):
		return "Give it with --client-secret-file FILE (or - for standard input), with\n" +
			"MAPSDEVICE_CLIENT_SECRET, or with systemd's LoadCredential=client-secret:FILE."
	case errors.Is(ae, auth.ErrNotRSA):
		return "Entra ID needs an RSA key: make the certificate with one, for example\n" +
			"  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=mapsdevice \\\n" +
			"    -keyout key.pem -out cert.pem\n" +
			"then upload cert.pem to the app registration."
	case errors.Is(ae, auth.ErrEncryptedPEM):
		return "Decrypt the key and keep the file readable by its owner only:\n" +
			"  openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem\n" +
			"or make a PFX and give its password with --client-certificate-password-file:\n" +
			"  openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.pfx"
	case errors.Is(ae, auth.ErrWrongPassword):
		return "Check --client-certificate-password-file (or MAPSDEVICE_CLIENT_CERTIFICATE_PASSWORD)."
	case errors.Is(ae, auth.ErrKeyMismatch):
		return "The file's private key belongs to none of its certificates: put the\n" +
			"certificate and its own key together."
	case strings.Contains(ae.Error(), "federated token"):
		return "Set --federated-token-file (or AZURE_FEDERATED_TOKEN_FILE) to the file the\n" +
			"identity provider keeps its token in."
	}
	return "Check the file named, and --client-certificate or --client-secret-file."
}

// explainVault says what Key Vault's refusals mean; nil when err is not
// one of them.
func explainVault(err error) *exitError {
	if errors.Is(err, keyvault.ErrChallenge) {
		return &exitError{code: ExitError, errCode: "vault_challenge", msg: "Stopped: " + err.Error() + ".\n" +
			"No token was sent. Check --maps-key-from-vault: it must be the vault's own address."}
	}
	var ke *keyvault.Error
	if !errors.As(err, &ke) {
		return nil
	}
	what := ke.Error() + "."
	switch {
	case ke.Status == 403 && strings.Contains(ke.Message, "Client address is not authorized"):
		return &exitError{code: ExitError, errCode: "vault_forbidden", msg: what + "\n" +
			"The vault's firewall does not let this address in: add it under the vault's Networking page."}
	case ke.Status == 403:
		return &exitError{code: ExitError, errCode: "vault_forbidden", msg: what + "\n" +
			"The identity in use needs the role \"Key Vault Secrets User\" on the vault (or, in a vault\n" +
			"that uses access policies, the Get secret permission). Role assignments take a few\n" +
			"minutes to reach Key Vault: if it was just given, try again in 5 to 10 minutes."}
	case ke.Status == 404:
		return &exitError{code: ExitError, errCode: "vault_not_found", msg: what + "\n" +
			"Check --maps-key-from-vault: https://NAME.vault.azure.net/secrets/NAME[/VERSION]."}
	}
	return &exitError{code: ExitError, errCode: "vault_error", msg: what + "\nCheck --maps-key-from-vault and the credential in use."}
}
