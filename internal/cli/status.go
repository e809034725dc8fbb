package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

type statusOptions struct {
	settings
	JSON bool
}

func newStatusCmd(stdio Stdio) *ffcli.Command {
	var o statusOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "status",
			ShortUsage: "mapsdevice status [flags]",
			ShortHelp:  "show who is signed in and where tokens are kept",
			LongHelp: strings.TrimSpace(`
Show the signed-in account, its tenant, the authority, when the access token
expires and which token store is in use. Gets a token silently to be sure:
exit 0 when one can be had, 2 when sign-in is needed.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.register(fs)
			registerJSON(fs, &o.JSON, `write {"event":"status",..} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runStatus(ctx, stdio, o) },
	})
}

func runStatus(ctx context.Context, stdio Stdio, o statusOptions) error {
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdio.Err, si.fallbackNote())
	st := statusEvent{
		Event:              "status",
		Authority:          si.client.Authority(),
		ClientID:           o.ClientID,
		Profile:            o.Profile,
		TokenStore:         si.choice.Store.Kind(),
		TokenStoreAuto:     si.choice.Auto,
		TokenStoreLocation: si.choice.Store.Location(),
	}
	res, tokenErr := si.client.Token(ctx)
	var ae *auth.Error
	if tokenErr != nil && !(errors.As(tokenErr, &ae) && ae.Kind == auth.KindSignInNeeded) {
		return tokenErr
	}
	if tokenErr == nil {
		st.SignedIn = true
		st.Username = res.Account.Username
		st.Name = res.Account.Name
		st.TenantID = res.Account.TenantID
		st.ExpiresAt = formatTime(res.ExpiresOn)
	} else {
		st.Reason = ae.Error()
	}
	if o.JSON {
		writeEvent(stdio.Out, st)
	} else {
		printStatus(stdio, si, o, res, tokenErr)
	}
	if tokenErr != nil {
		return &exitError{code: ExitSignIn, errCode: "sign_in_needed", shown: true, msg: notSignedIn(tokenErr)}
	}
	return nil
}

// notSignedIn says why there is no sign-in, without saying it twice when
// the reason is just that.
func notSignedIn(err error) string {
	msg := "Not signed in"
	if reason := err.Error(); reason != "not signed in" {
		msg += ": " + reason
	}
	return msg + ".\nRun 'mapsdevice login' to sign in."
}

func printStatus(stdio Stdio, si signedIn, o statusOptions, res auth.Result, tokenErr error) {
	w := stdio.Out
	if tokenErr != nil {
		fmt.Fprintf(w, "%s\n\n", notSignedIn(tokenErr))
	} else {
		who := res.Account.Username
		if res.Account.Name != "" {
			who += " (" + res.Account.Name + ")"
		}
		fmt.Fprintf(w, "Account:       %s\nTenant:        %s\n", who, res.Account.TenantID)
		fmt.Fprintf(w, "Access token:  valid until %s (in %s)\n", res.ExpiresOn.Local().Format("2006-01-02 15:04:05 MST"), until(res.ExpiresOn))
	}
	fmt.Fprintf(w, "Authority:     %s\nClient id:     %s\nProfile:       %s\n", si.client.Authority(), o.ClientID, o.Profile)
	fmt.Fprintf(w, "Token store:   %s: %s\n", si.storeName(), si.choice.Store.Location())
}
