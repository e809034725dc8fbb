package cli

import (
	"context"
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
	fs := newFlagSet("token", stdio)
	o.register(fs)
	fs.BoolVar(&o.JSON, "json", false, `write {"access_token","token_type","expires_at","username"} to stdout`)
	return &ffcli.Command{
		Name:       "token",
		ShortUsage: "mapsdevice token [flags]",
		ShortHelp:  "print a valid Azure Maps access token",
		LongHelp: strings.TrimSpace(`
Print a valid access token for Azure Maps on stdout, for use as
"Authorization: Bearer <token>". A cached token is used while it is valid,
with no network request; otherwise it is refreshed silently. Exit 2 when
sign-in is needed. This is the only command that prints a token.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: noArgs(stdio, "token", &o.settings, &o.JSON, func(ctx context.Context) error {
			return runToken(ctx, stdio, o)
		}),
	}
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
		writeEvent(stdio.Out, map[string]any{
			"access_token": res.AccessToken,
			"token_type":   "Bearer",
			"expires_at":   formatTime(res.ExpiresOn),
			"username":     res.Account.Username,
		})
		return nil
	}
	fmt.Fprintln(stdio.Out, res.AccessToken)
	return nil
}
