package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

type tokenOptions struct {
	settings
	JSON bool
}

func newTokenCmd(stdio Stdio) *ffcli.Command {
	var o tokenOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "token",
			ShortUsage: "mapsdevice token [flags]",
			ShortHelp:  "print a valid Azure Maps access token",
			LongHelp: strings.TrimSpace(`
Print a valid access token for Azure Maps on stdout, for use as
"Authorization: Bearer <token>". With a device code sign-in, a cached token
is used while it is valid, with no network request; otherwise it is
refreshed silently. Exit 2 when sign-in is needed. With an app credential
or a managed identity (--credential), tokens live in memory only, so each
run asks for one. This is the only command that prints a token.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.registerWithCredential(fs)
			registerJSON(fs, &o.JSON, `write {"event":"token","access_token",..} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runToken(ctx, stdio, o) },
	})
}

func runToken(ctx context.Context, stdio Stdio, o tokenOptions) error {
	cred, _, err := o.credential(ctx, stdio)
	if err != nil {
		return err
	}
	res, err := cred.AccessToken(ctx, "", false)
	if err != nil {
		return err
	}
	if o.JSON {
		ev := tokenEvent{
			Event:       "token",
			AccessToken: res.AccessToken,
			TokenType:   "Bearer",
			ExpiresAt:   formatTime(res.ExpiresOn),
			Username:    res.Account.Username,
			Credential:  cred.Identity().Kind,
		}
		if o.Cred.app() {
			ev.AppID = res.Claims.AppID
		}
		writeEvent(stdio.Out, ev)
		return nil
	}
	fmt.Fprintln(stdio.Out, res.AccessToken)
	return nil
}
