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
"Authorization: Bearer <token>". A cached token is used while it is valid,
with no network request; otherwise it is refreshed silently. Exit 2 when
sign-in is needed. This is the only command that prints a token.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.register(fs)
			registerJSON(fs, &o.JSON, `write {"event":"token","access_token",..} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runToken(ctx, stdio, o) },
	})
}

func runToken(ctx context.Context, stdio Stdio, o tokenOptions) error {
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdio.Err, si.fallbackNote())
	res, err := si.client.Token(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		writeEvent(stdio.Out, tokenEvent{
			Event:       "token",
			AccessToken: res.AccessToken,
			TokenType:   "Bearer",
			ExpiresAt:   formatTime(res.ExpiresOn),
			Username:    res.Account.Username,
		})
		return nil
	}
	fmt.Fprintln(stdio.Out, res.AccessToken)
	return nil
}
