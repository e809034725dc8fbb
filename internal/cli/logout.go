package cli

import (
	"context"
	"flag"
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
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "logout",
			ShortUsage: "mapsdevice logout [flags]",
			ShortHelp:  "sign out and remove the stored sign-in",
			LongHelp: strings.TrimSpace(`
Remove the account and everything stored for the profile: the cached tokens,
and for the keyring store its key too. Signing out when not signed in is not
an error.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.register(fs)
			registerJSON(fs, &o.JSON, `write {"event":"signed_out",..} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runLogout(ctx, stdio, o) },
	})
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
		writeEvent(stdio.Out, signedOutEvent{Event: "signed_out", Profile: o.Profile, TokenStore: si.choice.Store.Kind()})
		return nil
	}
	fmt.Fprintf(stdio.Out, "Signed out. The stored sign-in of profile %q was removed.\n", o.Profile)
	return nil
}
