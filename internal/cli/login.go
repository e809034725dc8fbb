package cli

import (
	"context"
	"flag"
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
	// AppName is the app registration's display name, shown with the code.
	AppName string
	// Browser signs in with the authorization code flow instead, its
	// loopback redirect on Port (0: any free port).
	Browser bool
	Port    int
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
web address, with the app (--app-name), tenant and access it signs in to;
open the address on any phone or computer, enter the code and approve.
Only continue if you started this sign-in on this device: if a website, a
message or a person gave you the code, cancel. The sign-in is kept (see
--token-store), so later commands need no one present.

On an interactive terminal the code fills the screen (keys: c copies it over
OSC 52, which works over SSH; r gets a new one after expiry; q cancels). With
no terminal, with --plain or with --json, the output is plain text.

With --browser, sign in in a browser instead (authorization code with
PKCE): the address is printed, never opened; over SSH forward --port first
with ssh -L PORT:localhost:PORT and open it on your own computer.

With --json, events go to stdout as NDJSON lines (see docs/json.md):
  device_code  user_code, verification_uri, expires_at, interval, message,
               app_name, client_id, tenant, scopes, warning
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
			fs.BoolVar(&o.Browser, "browser", false, "sign in in a browser (authorization code with PKCE) instead of with a code; prints the address to open")
			fs.IntVar(&o.Port, "port", 0, "with --browser: the loopback port for the answer, to forward with ssh -L PORT:localhost:PORT (0: any free port)")
			fs.StringVar(&o.AppName, "app-name", defaultAppName, "the app registration's display name, as the sign-in page shows it; shown with the code")
		},
		run: func(ctx context.Context, _ []string) error { return runLogin(ctx, stdio, o) },
	})
}

func runLogin(ctx context.Context, stdio Stdio, o loginOptions) error {
	if err := atLeast("renew", int64(o.Renew), 0); err != nil {
		return err
	}
	if err := intRange("port", int64(o.Port), 0, 65535); err != nil {
		return err
	}
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	if o.Browser {
		return browserLogin(ctx, stdio, o, si)
	}
	x := &signIn{stdio: stdio, command: "mapsdevice login", s: o.settings, si: si,
		screen: screenOptions{JSON: o.JSON, Plain: o.Plain, Kiosk: o.Kiosk, Renew: o.Renew, AppName: o.AppName}}
	res, err := x.run(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		writeSignedIn(stdio, res, si)
		return nil
	}
	printSignedIn(stdio, res, si)
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
