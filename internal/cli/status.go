package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
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
exit 0 when one can be had, 2 when sign-in is needed.

With an app credential or a managed identity (--credential), show the kind,
the app and service principal (object) ids and tenant the token names, the
managed identity's source, and when the token expires. Never a secret.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.registerWithCredential(fs)
			registerJSON(fs, &o.JSON, `write {"event":"status",..} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runStatus(ctx, stdio, o) },
	})
}

func runStatus(ctx context.Context, stdio Stdio, o statusOptions) error {
	cred, si, err := o.credential(ctx, stdio)
	if err != nil {
		return err
	}
	if si == nil {
		return appStatus(ctx, stdio, o, cred)
	}
	st := statusEvent{
		Event:              "status",
		Credential:         auth.CredentialDeviceCode,
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
		// Token may just have renewed it; a cache that cannot be read
		// again only leaves the window out.
		if last, err := si.client.LastRenewed(ctx); err == nil && !last.IsZero() {
			left := auth.DaysLeft(last, time.Now())
			st.RenewedAt, st.DaysLeft = formatTime(last), &left
		}
	} else {
		st.Reason = ae.Error()
	}
	if o.JSON {
		writeEvent(stdio.Out, st)
	} else {
		printStatus(stdio, *si, o, st, res, tokenErr)
	}
	if tokenErr != nil {
		return &exitError{code: ExitSignIn, errCode: "sign_in_needed", shown: true, msg: notSignedIn(tokenErr)}
	}
	return nil
}

// appTokenStore says where an app's tokens are: nowhere but memory.
const appTokenStore = "this process's memory only: app tokens are never stored"

// appStatus is status for an app credential or managed identity: who the
// token says it is, from a token got now.
func appStatus(ctx context.Context, stdio Stdio, o statusOptions, cred auth.Credential) error {
	res, err := cred.AccessToken(ctx, "", false)
	if err != nil {
		return err
	}
	id := cred.Identity()
	st := statusEvent{
		Event:              "status",
		SignedIn:           true,
		Credential:         id.Kind,
		Authority:          id.Authority,
		ClientID:           id.ClientID,
		TokenStore:         tokenstore.KindMemory,
		TokenStoreLocation: appTokenStore,
		AppID:              res.Claims.AppID,
		ObjectID:           res.Claims.ObjectID,
		TenantID:           res.Claims.TenantID,
		ManagedIdentity:    id.ManagedIdentity,
		ManagedSource:      id.ManagedIdentitySource,
		ExpiresAt:          formatTime(res.ExpiresOn),
	}
	if o.JSON {
		writeEvent(stdio.Out, st)
		return nil
	}
	w := stdio.Out
	fmt.Fprintf(w, "Credential:    %s\n", id.Kind)
	if id.ManagedIdentity != "" {
		fmt.Fprintf(w, "Identity:      %s, from %s\n", id.ManagedIdentity, id.ManagedIdentitySource)
	}
	fmt.Fprintf(w, "App id:        %s\nObject id:     %s (the service principal)\nTenant:        %s\n", res.Claims.AppID, res.Claims.ObjectID, res.Claims.TenantID)
	fmt.Fprintf(w, "Access token:  valid until %s (in %s)\n", res.ExpiresOn.Local().Format("2006-01-02 15:04:05 MST"), until(res.ExpiresOn))
	if id.Authority != "" {
		fmt.Fprintf(w, "Authority:     %s\n", id.Authority)
	}
	fmt.Fprintf(w, "Token store:   none: %s\n", appTokenStore)
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

func printStatus(stdio Stdio, si signedIn, o statusOptions, st statusEvent, res auth.Result, tokenErr error) {
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
		if st.DaysLeft != nil {
			fmt.Fprintf(w, "Sign-in:       last renewed %s; %d of %d days left before it lapses unused\n",
				st.RenewedAt, *st.DaysLeft, int(auth.RefreshWindow.Hours()/24))
		}
	}
	fmt.Fprintf(w, "Credential:    %s\n", auth.CredentialDeviceCode)
	fmt.Fprintf(w, "Authority:     %s\nClient id:     %s\nProfile:       %s\n", si.client.Authority(), o.ClientID, o.Profile)
	fmt.Fprintf(w, "Token store:   %s: %s\n", si.storeName(), si.choice.Store.Location())
}
