package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// exitError is an error already explained for people: its exit code, its
// code for --json and the message.
type exitError struct {
	code    int
	errCode string // for --json
	msg     string
	// shown is true when the command's result already says it to people
	// (validate's list of problems, status's "Not signed in"), so stderr
	// gets nothing more; --json still ends with the error event.
	shown bool
}

func (e *exitError) Error() string { return e.msg }

// explain turns an error into what the user reads, the exit code, and a
// stable code for --json. Only here do errors learn what to do next.
// command is the full name of the command that failed; s its sign-in
// settings, which some messages name.
func explain(err error, command string, s settings) *exitError {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	if errors.Is(err, context.Canceled) {
		return &exitError{code: ExitInterrupted, errCode: "interrupted", msg: "Interrupted."}
	}
	if errors.Is(err, auth.ErrNoClientID) {
		if s.Cred.app() {
			return &exitError{code: ExitUsage, errCode: "no_client_id", msg: "No client id is set. An app credential signs in as an app registration:\n" +
				"pass its Application (client) ID with --client-id or MAPSDEVICE_CLIENT_ID.\nSee 'Daemons and services' in the README."}
		}
		return &exitError{code: ExitUsage, errCode: "no_client_id", msg: noClientIDHelp}
	}
	var ue usageError
	if errors.As(err, &ue) {
		return &exitError{code: ExitUsage, errCode: "usage", msg: fmt.Sprintf("%v\nRun '%s --help' for usage.", ue.err, command)}
	}
	var inv *geofence.InvalidError
	if errors.As(err, &inv) {
		return invalidGeoJSON("The GeoJSON", inv)
	}
	if ee := explainMaps(err, s); ee != nil {
		return ee
	}
	if ee := explainVault(err); ee != nil {
		return ee
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return &exitError{code: ExitError, errCode: "error", msg: "Error: " + err.Error() + "."}
	}
	what := capitalize(ae.Error())
	switch ae.Kind {
	case auth.KindSignInNeeded:
		return &exitError{code: ExitSignIn, errCode: "sign_in_needed", msg: what + ".\nRun 'mapsdevice login' to sign in."}
	case auth.KindDeclined:
		return &exitError{code: ExitError, errCode: "declined", msg: what + ".\nRun 'mapsdevice login' to try again."}
	case auth.KindCodeExpired:
		return &exitError{code: ExitError, errCode: "expired", msg: what + ".\nRun 'mapsdevice login' for a new code."}
	case auth.KindConditionalAccess, auth.KindSecurityDefaults, auth.KindDeviceCompliance,
		auth.KindPublicClientDisabled, auth.KindConsentRequired:
		return explainAdmin(ae, s)
	case auth.KindMFARequired:
		return &exitError{code: ExitSignIn, errCode: "mfa_required", msg: what + "; you must sign in again.\nRun 'mapsdevice login' and complete the multi-factor prompts in the browser."}
	case auth.KindSingleTenantApp:
		return &exitError{code: ExitUsage, errCode: "single_tenant_app", msg: what + "; the fix is on this device.\nPass your tenant id or domain with --tenant (MAPSDEVICE_TENANT) instead of common or organizations."}
	case auth.KindLoopDetected:
		return &exitError{code: ExitError, errCode: "loop_detected", msg: what + ".\nWait a few minutes before trying again."}
	case auth.KindTenantRequired, auth.KindCredential, auth.KindBadSecret, auth.KindSecretExpired,
		auth.KindCertificateNotRegistered, auth.KindClock, auth.KindBadAssertion, auth.KindFederationMismatch,
		auth.KindResourceNotFound, auth.KindManagedIdentity, auth.KindArcAccess:
		return explainApp(ae, s)
	case auth.KindUnknownClient:
		return &exitError{code: ExitError, errCode: "unknown_client", msg: fmt.Sprintf("%s.\nThe client id in use is %q. Check --client-id and --tenant (or --authority). See 'Setting up a real tenant' in the README.", what, s.ClientID)}
	case auth.KindNetwork:
		return &exitError{code: ExitError, errCode: "network", msg: fmt.Sprintf("%s (%s).\nCheck the network connection and any HTTPS_PROXY setting, then try again.", what, s.authorityHint())}
	case auth.KindUntrusted:
		return &exitError{code: ExitError, errCode: "untrusted", msg: what + ".\nFor the emulator, set --ca-file (MAPSDEVICE_CA_FILE) to its ca.pem; 'mapsdevice emulator' prints it."}
	case auth.KindKeyring:
		return &exitError{code: ExitError, errCode: "keyring", msg: what + ".\nUnlock the keyring and try again, or use --token-store file to keep tokens in a plain file."}
	case auth.KindStore:
		return &exitError{code: ExitError, errCode: "store", msg: fmt.Sprintf("%s.\nThe state folder %s must be a folder this user can write, on a disk with free space; fix it or choose another with --home.", what, s.Home)}
	default:
		return &exitError{code: ExitError, errCode: "service", msg: what + ".\nTry again later."}
	}
}

// ExitAdmin means an administrator must act: an organisation policy or the
// app registration refuses the sign-in, and trying again cannot help.
const ExitAdmin = 3

// explainAdmin says what the organisation refused, that an administrator
// must act, and what they need to find the sign-in and fix it.
func explainAdmin(ae *auth.Error, s settings) *exitError {
	code, fix := adminFix(ae)
	var b strings.Builder
	b.WriteString(capitalize(ae.Error()))
	b.WriteString("; an administrator of the tenant must act.\n")
	b.WriteString("Signing in again is refused the same way until they do. Give them:\n")
	fmt.Fprintf(&b, "  App (client) ID: %s\n", s.ClientID)
	fmt.Fprintf(&b, "  Tenant:          %s\n", tenantOf(s))
	if ae.CorrelationID != "" {
		fmt.Fprintf(&b, "  Correlation ID:  %s\n", ae.CorrelationID)
	}
	if ae.Timestamp != "" {
		fmt.Fprintf(&b, "  Timestamp:       %s\n", ae.Timestamp)
	}
	fmt.Fprintf(&b, "  To change:       %s\n", fix)
	b.WriteString("See 'For administrators' in the README.")
	return &exitError{code: ExitAdmin, errCode: code, msg: b.String()}
}

// adminFix is the JSON code and the setting an administrator changes.
func adminFix(ae *auth.Error) (code, fix string) {
	switch ae.Kind {
	case auth.KindConditionalAccess:
		fix = "Conditional Access: exclude this app, scoped to a group of device accounts or a named location, " +
			"from the policy that blocks the device code flow (it may be the Microsoft-managed \"Block device code flow\")"
		if ae.Refresh {
			return "refresh_blocked", fix + "; sessions begun with a device code stay tagged, so this device needs the exception too"
		}
		return "conditional_access", fix
	case auth.KindSecurityDefaults:
		return "security_defaults", "security defaults are on; replace them with Conditional Access policies that allow this app " +
			"(Entra admin center > Overview > Properties > Manage security defaults)"
	case auth.KindDeviceCompliance:
		return "device_compliance", "Conditional Access requires a compliant or joined device, which a device code cannot prove " +
			"(the browser that approves is not this device); exclude this app or a device group from that policy, or use an app credential"
	case auth.KindPublicClientDisabled:
		return "public_client_disabled", "App registrations > this app > Authentication > Advanced settings > Allow public client flows: Yes"
	default: // KindConsentRequired
		return "consent_required", "App registrations > this app > API permissions > Grant admin consent (Azure Maps user_impersonation)"
	}
}

// tenantOf is the tenant the settings name, from the authority when set.
func tenantOf(s settings) string {
	if s.Authority == "" {
		return s.Tenant
	}
	rest := s.Authority
	if _, after, ok := strings.Cut(rest, "://"); ok {
		rest = after
	}
	_, path, _ := strings.Cut(rest, "/")
	tenant, _, _ := strings.Cut(path, "/")
	return tenant
}

// invalidGeoJSON explains a local geofence file that breaks the rules;
// what names it, as in "--geofence-file fences.geojson".
func invalidGeoJSON(what string, inv *geofence.InvalidError) *exitError {
	var b strings.Builder
	fmt.Fprintf(&b, "%s has %d problem(s):", what, len(inv.Problems))
	for i, p := range inv.Problems {
		if i == 20 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(inv.Problems)-20)
			break
		}
		fmt.Fprintf(&b, "\n  - %s", p)
	}
	b.WriteString("\nFix the file; 'mapsdevice geofence validate FILE' lists every problem.")
	return &exitError{code: ExitData, errCode: "invalid_geojson", msg: b.String()}
}

const noClientIDHelp = `No client id is set. mapsdevice signs in as an app registered in your tenant:
  1. Entra admin center > App registrations > New registration
     (accounts in this organisational directory; no redirect URI).
  2. Authentication > Advanced settings > Allow public client flows: Yes.
  3. API permissions > Add a permission > Azure Maps > Delegated >
     user_impersonation ("Access Azure Maps"), then grant consent.
  4. On the Azure Maps account, give the users an Azure Maps data role
     (Azure Maps Data Reader or Data Contributor).
Then pass the Application (client) ID with --client-id or MAPSDEVICE_CLIENT_ID,
and your tenant with --tenant. To try mapsdevice without a tenant, run
'mapsdevice demo'.`

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// settingsOf reads, from a parsed command's flags, the sign-in settings
// explain names. A command without them gives empty ones.
func settingsOf(fs *flag.FlagSet) settings {
	get := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	return settings{Tenant: get("tenant"), Authority: get("authority"), ClientID: get("client-id"), Home: get("home"),
		Cred: credentialFlags{Kind: get("credential"), Timeout: durationOf(get("timeout"))}}
}

func durationOf(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}
