package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

type logoutOptions struct {
	settings
	JSON bool
}

func newLogoutCmd(stdio Stdio) *ffcli.Command {
	var o logoutOptions
	fs := newFlagSet("logout", stdio)
	o.register(fs)
	fs.BoolVar(&o.JSON, "json", false, `write {"event":"signed_out",..} to stdout`)
	return &ffcli.Command{
		Name:       "logout",
		ShortUsage: "mapsdevice logout [flags]",
		ShortHelp:  "sign out and remove the stored sign-in",
		LongHelp: strings.TrimSpace(`
Remove the account and everything stored for the profile: the cached tokens,
and for the keyring store its key too. Signing out when not signed in is not
an error.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: noArgs(stdio, "logout", &o.settings, &o.JSON, func(ctx context.Context) error {
			return runLogout(ctx, stdio, o)
		}),
	}
}

func runLogout(ctx context.Context, stdio Stdio, o logoutOptions) error {
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdio.Err, si.fallbackNote())
	if err := si.client.SignOut(ctx); err != nil {
		return err
	}
	if o.JSON {
		writeEvent(stdio.Out, map[string]any{"event": "signed_out", "profile": o.Profile, "token_store": si.choice.Store.Kind()})
		return nil
	}
	fmt.Fprintf(stdio.Out, "Signed out. The stored sign-in of profile %q was removed.\n", o.Profile)
	return nil
}
