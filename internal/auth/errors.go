package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// Kind sorts failures by what the user has to do about them.
type Kind int

// The kinds of failure.
const (
	KindService           Kind = iota // the identity service failed or refused
	KindSignInNeeded                  // no usable sign-in: run login
	KindDeclined                      // the user declined on the other device
	KindCodeExpired                   // the device code expired before approval
	KindConditionalAccess             // a policy blocks the device code flow
	KindUnknownClient                 // the client id is not registered
	KindNetwork                       // the service could not be reached
	KindUntrusted                     // TLS: the server's certificate is not trusted
	KindKeyring                       // the OS keyring did not answer
	KindStore                         // the token store's files could not be read or written

	// App credentials and managed identity.
	KindTenantRequired           // common or organizations with an app credential
	KindCredential               // the secret, certificate or token file could not be used
	KindBadSecret                // AADSTS7000215: not this app's secret
	KindSecretExpired            // AADSTS7000222
	KindCertificateNotRegistered // AADSTS700027: the certificate is not on the app
	KindClock                    // AADSTS700024, or this clock is not set
	KindBadAssertion             // AADSTS700021/700023: the assertion names the wrong app or audience
	KindFederationMismatch       // AADSTS70021: no federated credential matches the token
	KindResourceNotFound         // AADSTS500011: the resource is not in the tenant
	KindManagedIdentity          // no managed identity answered, or it refused
	KindArcAccess                // Azure Arc's token file could not be read

	// Organisation policy and app registration: an administrator acts.
	KindSecurityDefaults     // AADSTS530035: security defaults block the sign-in
	KindDeviceCompliance     // AADSTS53000/50097/50005: a device rule a device code cannot meet
	KindPublicClientDisabled // AADSTS7000218: "Allow public client flows" is off
	KindConsentRequired      // AADSTS65001: nobody has consented to the app's permission
	KindSingleTenantApp      // AADSTS50194: a single-tenant app used with common or organizations
	KindMFARequired          // AADSTS50076/50079/50072: a sign-in with MFA is needed
	KindLoopDetected         // AADSTS50196: too many identical requests
)

// ErrNoClientID means no app registration was configured.
var ErrNoClientID = errors.New("no client id is set")

// Error is a classified sign-in failure. Its text is safe to show: it never
// holds a token or a raw response.
type Error struct {
	Kind Kind
	// Code is the AADSTS number, or 0.
	Code int
	// Reason is a short plain-language explanation.
	Reason string
	// Refresh is set when the stored sign-in failed to renew, as opposed
	// to a new sign-in failing.
	Refresh bool
	// CorrelationID and Timestamp identify the answer in the tenant's
	// sign-in logs, for an administrator.
	CorrelationID string
	Timestamp     string
	Err           error
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%s (AADSTS%d)", e.Reason, e.Code)
	}
	return e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// serverError is the part of an Entra error body we read.
type serverError struct {
	Error         string `json:"error"`
	ErrorCodes    []int  `json:"error_codes"`
	CorrelationID string `json:"correlation_id"`
	Timestamp     string `json:"timestamp"`
}

// classify turns what MSAL returns into an *Error. Cancellation passes
// through unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindNetwork, Reason: "the identity service did not answer in time", Err: err}
	}
	if errors.Is(err, tokenstore.ErrUnreadable) {
		return &Error{Kind: KindSignInNeeded, Reason: err.Error(), Err: err}
	}
	if errors.Is(err, tokenstore.ErrKeyringUnavailable) {
		return &Error{Kind: KindKeyring, Reason: err.Error(), Err: err}
	}
	var call msalerrors.CallErr
	if errors.As(err, &call) {
		return classifyCall(call, err)
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) {
		return &Error{Kind: KindUntrusted, Reason: "the identity service's TLS certificate is not trusted", Err: err}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return &Error{Kind: KindNetwork, Reason: "the identity service could not be reached", Err: err}
	}
	// Before net.Error, which a bare syscall.Errno such as EACCES satisfies.
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	if errors.As(err, &pathErr) || errors.As(err, &linkErr) {
		return &Error{Kind: KindStore, Reason: "the stored sign-in could not be read or written: " + firstLine(err.Error()), Err: err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return &Error{Kind: KindNetwork, Reason: "the identity service could not be reached", Err: err}
	}
	if strings.Contains(err.Error(), "no token found") {
		return &Error{Kind: KindSignInNeeded, Reason: "no stored sign-in for this account", Err: err}
	}
	return &Error{Kind: KindService, Reason: "sign-in failed: " + firstLine(err.Error()), Err: err}
}

func classifyCall(call msalerrors.CallErr, err error) error {
	status := 0
	if call.Resp != nil {
		status = call.Resp.StatusCode
	}
	var body serverError
	if _, raw, ok := strings.Cut(call.Error(), "\n"); ok {
		_ = json.Unmarshal([]byte(raw), &body)
	}
	code := 0
	if len(body.ErrorCodes) > 0 {
		code = body.ErrorCodes[0]
	}
	e := &Error{Code: code, CorrelationID: body.CorrelationID, Timestamp: body.Timestamp, Err: err}
	if k, reason, ok := classifyCode(code); ok {
		e.Kind, e.Reason = k, reason
		return e
	}
	switch {
	case body.Error == "unauthorized_client":
		e.Kind, e.Reason = KindUnknownClient, "the identity service does not know this client id"
	case body.Error == "authorization_declined" || body.Error == "access_denied":
		e.Kind, e.Reason = KindDeclined, "the sign-in was declined on the other device"
	case body.Error == "expired_token":
		e.Kind, e.Reason = KindCodeExpired, "the code expired before anyone approved it"
	case body.Error == "invalid_grant":
		e.Kind, e.Reason = KindSignInNeeded, "the stored sign-in is no longer accepted"
	case status >= 500 || status == 429 || body.Error == "temporarily_unavailable":
		e.Kind, e.Reason = KindService, fmt.Sprintf("the identity service is having trouble (HTTP %d)", status)
	case body.Error != "":
		e.Kind, e.Reason = KindService, fmt.Sprintf("the identity service refused the request: %s", body.Error)
	default:
		e.Kind, e.Reason = KindService, fmt.Sprintf("the identity service answered HTTP %d", status)
	}
	return e
}

// classifyCode sorts the AADSTS numbers that say what to fix. The number
// decides, not the error string: Entra sends unauthorized_client both for
// an unknown app and for a federated token that matches nothing.
func classifyCode(code int) (Kind, string, bool) {
	switch code {
	case 53003:
		return KindConditionalAccess, "a Conditional Access policy of your organisation blocks sign-in with a device code", true
	case 530035:
		return KindSecurityDefaults, "the security defaults of your organisation block this sign-in", true
	case 53000, 50097, 50005:
		return KindDeviceCompliance, "your organisation allows only managed or compliant devices, which a device code sign-in cannot prove", true
	case 50076, 50079, 50072:
		return KindMFARequired, "your organisation now requires multi-factor authentication for this sign-in", true
	case 7000218:
		return KindPublicClientDisabled, "the app registration does not allow public client flows, which device code sign-in needs", true
	case 700016, 700011:
		return KindUnknownClient, "the identity service does not know this client id in this tenant", true
	case 65001:
		return KindConsentRequired, "nobody has consented to the app's Azure Maps permission in this tenant", true
	case 50194:
		return KindSingleTenantApp, "the app is registered for one tenant only and cannot sign in through common or organizations", true
	case 50196:
		return KindLoopDetected, "the identity service saw the same request too often and stopped answering it", true
	case 70019, 70020:
		return KindCodeExpired, "the code expired before anyone approved it", true
	case 700082:
		return KindSignInNeeded, "the stored sign-in expired after 90 days unused", true
	case 70043:
		return KindSignInNeeded, "your organisation's sign-in frequency policy requires signing in again", true
	case 50173, 50132, 50133:
		return KindSignInNeeded, "the stored sign-in was revoked, for example by a password change", true
	case 7000215:
		return KindBadSecret, "the identity service refused the client secret: it is not a secret of this app", true
	case 7000222:
		return KindSecretExpired, "the client secret has expired", true
	case 700027:
		return KindCertificateNotRegistered, "the identity service refused the certificate: it is not registered on this app", true
	case 700024:
		return KindClock, "the identity service refused the client assertion as outside its valid time", true
	case 700021, 700023:
		return KindBadAssertion, "the identity service refused the client assertion: it names another app or audience", true
	case 70021:
		return KindFederationMismatch, "no federated credential of this app matches the token's issuer, subject and audience", true
	case 500011:
		return KindResourceNotFound, "the resource asked for has no service principal in this tenant", true
	case 50059, 9001023:
		return KindTenantRequired, "the identity service needs a tenant for app credentials", true
	}
	return 0, "", false
}

// atRefresh marks a failure to renew the stored sign-in. A device code
// session stays tagged as one (protocol tracking), so a block added after
// sign-in also stops its refresh.
func atRefresh(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code == 0 {
		return err
	}
	e.Refresh = true
	if e.Kind == KindConditionalAccess {
		e.Reason = "your organisation has since blocked device-code sign-ins; this device's saved sign-in can no longer be renewed"
	}
	return err
}

// SignInLost says whether the stored sign-in can no longer be used until
// a person or an administrator acts: retrying alone will not help.
func SignInLost(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Kind {
	case KindSignInNeeded, KindMFARequired, KindConditionalAccess, KindSecurityDefaults, KindDeviceCompliance,
		KindPublicClientDisabled, KindConsentRequired, KindUnknownClient, KindSingleTenantApp:
		return true
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
