package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

type loginOptions struct {
	settings
	JSON  bool
	Plain bool
	Kiosk bool
	Renew int
}

func newLoginCmd(stdio Stdio) *ffcli.Command {
	var o loginOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "login",
			ShortUsage: "mapsdevice login [flags]",
			ShortHelp:  "sign in with a code approved on a phone or computer",
			LongHelp: strings.TrimSpace(`
Sign in with the device code flow: mapsdevice shows a code, a QR code and a
web address; open the address on any phone or computer, enter the code and
approve. The sign-in is kept (see --token-store), so later commands need no
one present.

On an interactive terminal the code fills the screen (keys: c copies it over
OSC 52, which works over SSH; r gets a new one after expiry; q cancels). With
no terminal, with --plain or with --json, the output is plain text.

With --json, events go to stdout as NDJSON lines (see docs/json.md):
  device_code  user_code, verification_uri, expires_at, interval, message
  signed_in    username, tenant_id, expires_at, token_store
  error        code, message
for example {"event":"signed_in","username":"ana@contoso.com",...}.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.register(fs)
			registerJSON(fs, &o.JSON, "write NDJSON events to stdout (no screen)")
			fs.BoolVar(&o.Plain, "plain", false, "plain text instead of the full-screen code, even on a terminal")
			fs.BoolVar(&o.Kiosk, "kiosk", false, "full screen, only the cancel hint, new codes without end")
			fs.IntVar(&o.Renew, "renew", 0, "get a new code by itself this many times when one expires")
		},
		run: func(ctx context.Context, _ []string) error { return runLogin(ctx, stdio, o) },
	})
}

func runLogin(ctx context.Context, stdio Stdio, o loginOptions) error {
	if err := atLeast("renew", int64(o.Renew), 0); err != nil {
		return err
	}
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	x := &signIn{stdio: stdio, command: "mapsdevice login", s: o.settings, si: si,
		screen: screenOptions{JSON: o.JSON, Plain: o.Plain, Kiosk: o.Kiosk, Renew: o.Renew}}
	res, err := x.run(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		writeSignedIn(stdio, res, si)
		return nil
	}
	who := res.Account.Username
	if res.Account.Name != "" {
		who += " (" + res.Account.Name + ")"
	}
	fmt.Fprintf(stdio.Out, "Signed in as %s, tenant %s.\nTokens are kept in the %s.\n", who, res.Account.TenantID, si.choice.Store.Location())
	return nil
}

// writeSignedIn is the signed_in event of --json.
func writeSignedIn(stdio Stdio, res auth.Result, si signedIn) {
	writeEvent(stdio.Out, signedInEvent{
		Event:      "signed_in",
		Username:   res.Account.Username,
		TenantID:   res.Account.TenantID,
		ExpiresAt:  formatTime(res.ExpiresOn),
		TokenStore: si.choice.Store.Kind(),
	})
}
