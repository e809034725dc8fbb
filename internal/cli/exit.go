package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// exitError carries an exit code and a message that is already written for
// people; exit prints it as it is.
type exitError struct {
	code    int
	errCode string // for --json
	msg     string
	printed bool
}

func (e *exitError) Error() string { return e.msg }

// explain turns an error into what the user reads, the exit code, and a
// stable code for --json. Only here do errors learn what to do next.
func explain(err error, s settings) *exitError {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	if errors.Is(err, context.Canceled) {
		return &exitError{code: ExitInterrupted, errCode: "interrupted", msg: "Interrupted."}
	}
	if errors.Is(err, auth.ErrNoClientID) {
		return &exitError{code: ExitUsage, errCode: "no_client_id", msg: noClientIDHelp}
	}
	var ue usageError
	if errors.As(err, &ue) {
		return &exitError{code: ExitUsage, errCode: "usage", msg: ue.Error() + "\nRun 'mapsdevice --help' for usage."}
	}
	if ee := explainMaps(err); ee != nil {
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
	case auth.KindConditionalAccess:
		return &exitError{code: ExitError, errCode: "conditional_access", msg: what + ".\nYour organisation does not allow sign-in with a device code here. Ask an administrator to allow the device code flow for this app, or sign in from a device the policy accepts."}
	case auth.KindUnknownClient:
		return &exitError{code: ExitError, errCode: "unknown_client", msg: fmt.Sprintf("%s.\nThe client id in use is %q. Check --client-id and --tenant (or --authority). See 'Setting up a real tenant' in the README.", what, s.ClientID)}
	case auth.KindNetwork:
		return &exitError{code: ExitError, errCode: "network", msg: fmt.Sprintf("%s (%s).\nCheck the network connection and any HTTPS_PROXY setting, then try again.", what, s.authorityHint())}
	case auth.KindUntrusted:
		return &exitError{code: ExitError, errCode: "untrusted", msg: what + ".\nFor the emulator, set --ca-file (MAPSDEVICE_CA_FILE) to its ca.pem; 'mapsdevice emulator' prints it."}
	case auth.KindKeyring:
		return &exitError{code: ExitError, errCode: "keyring", msg: what + ".\nUnlock the keyring and try again, or use --token-store file to keep tokens in a plain file."}
	default:
		return &exitError{code: ExitError, errCode: "service", msg: what + ".\nTry again later."}
	}
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

// finish reports a command's error, for people on stderr or, with --json,
// as an error event on stdout, and returns it with its exit code.
func finish(stdio Stdio, s settings, asJSON bool, err error) error {
	if err == nil {
		return nil
	}
	ee := explain(err, s)
	if ee.printed {
		return ee
	}
	if asJSON {
		writeEvent(stdio.Out, map[string]any{"event": "error", "code": ee.errCode, "message": ee.msg})
	} else {
		fmt.Fprintln(stdio.Err, ee.msg)
	}
	return &exitError{code: ee.code, errCode: ee.errCode, msg: ee.msg, printed: true}
}

// exit turns what a command returned into the process exit code.
func exit(stdio Stdio, err error) int {
	if err == nil {
		return ExitOK
	}
	ee := explain(err, settings{})
	if !ee.printed {
		fmt.Fprintln(stdio.Err, ee.msg)
	}
	return ee.code
}
