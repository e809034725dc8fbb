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
	Err    error
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
	Error      string `json:"error"`
	ErrorCodes []int  `json:"error_codes"`
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
	e := &Error{Code: code, Err: err}
	switch {
	case code == 53003:
		e.Kind, e.Reason = KindConditionalAccess, "a Conditional Access policy of your organisation blocks this sign-in"
	case code == 700016 || body.Error == "unauthorized_client":
		e.Kind, e.Reason = KindUnknownClient, "the identity service does not know this client id"
	case body.Error == "authorization_declined" || body.Error == "access_denied":
		e.Kind, e.Reason = KindDeclined, "the sign-in was declined on the other device"
	case body.Error == "expired_token" || code == 70019 || code == 70020:
		e.Kind, e.Reason = KindCodeExpired, "the code expired before anyone approved it"
	case code == 700082:
		e.Kind, e.Reason = KindSignInNeeded, "the stored sign-in expired after a long time unused"
	case code == 50173 || code == 50133:
		e.Kind, e.Reason = KindSignInNeeded, "the stored sign-in was revoked, for example by a password change"
	case code == 65001:
		e.Kind, e.Reason = KindSignInNeeded, "consent to Azure Maps is needed"
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

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
