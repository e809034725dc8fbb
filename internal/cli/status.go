package cli

import (
	"context"
	"errors"
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
	fs := newFlagSet("status", stdio)
	o.register(fs)
	fs.BoolVar(&o.JSON, "json", false, "write the status as one JSON object to stdout")
	return &ffcli.Command{
		Name:       "status",
		ShortUsage: "mapsdevice status [flags]",
		ShortHelp:  "show who is signed in and where tokens are kept",
		LongHelp: strings.TrimSpace(`
Show the signed-in account, its tenant, the authority, when the access token
expires and which token store is in use. Gets a token silently to be sure:
exit 0 when one can be had, 2 when sign-in is needed.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: noArgs(stdio, "status", &o.settings, &o.JSON, func(ctx context.Context) error {
			return runStatus(ctx, stdio, o)
		}),
	}
}

func runStatus(ctx context.Context, stdio Stdio, o statusOptions) error {
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdio.Err, si.fallbackNote())
	st := map[string]any{
		"signed_in":            false,
		"authority":            si.client.Authority(),
		"client_id":            o.ClientID,
		"profile":              o.Profile,
		"token_store":          si.choice.Store.Kind(),
		"token_store_auto":     si.choice.Auto,
		"token_store_location": si.choice.Store.Location(),
	}
	res, tokenErr := si.client.Token(ctx)
	var ae *auth.Error
	if tokenErr != nil && !(errors.As(tokenErr, &ae) && ae.Kind == auth.KindSignInNeeded) {
		return tokenErr
	}
	if tokenErr == nil {
		st["signed_in"] = true
		st["username"] = res.Account.Username
		st["name"] = res.Account.Name
		st["tenant_id"] = res.Account.TenantID
		st["expires_at"] = formatTime(res.ExpiresOn)
	} else {
		st["reason"] = ae.Error()
	}
	if o.JSON {
		writeEvent(stdio.Out, st)
	} else {
		printStatus(stdio, si, o, res, tokenErr)
	}
	if tokenErr != nil {
		return &exitError{code: ExitSignIn, errCode: "sign_in_needed", msg: "sign-in needed", printed: true}
	}
	return nil
}

func printStatus(stdio Stdio, si signedIn, o statusOptions, res auth.Result, tokenErr error) {
	w := stdio.Out
	if tokenErr != nil {
		fmt.Fprintf(w, "Not signed in: %v.\nRun 'mapsdevice login' to sign in.\n\n", tokenErr)
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
