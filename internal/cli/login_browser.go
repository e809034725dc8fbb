package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// browserSignInEvent gives the address to open in a browser (login
// --browser --json).
type browserSignInEvent struct {
	Event string `json:"event"` // "browser_sign_in"
	URL   string `json:"url"`
	Port  string `json:"port"`
}

// browserLogin signs in through a browser: it prints the address and
// never starts a browser itself, since over SSH the one to use is on the
// technician's laptop, reached through the forwarded port.
func browserLogin(ctx context.Context, stdio Stdio, o loginOptions, si signedIn) error {
	fmt.Fprint(stdio.Err, si.fallbackNote())
	show := func(address string) error {
		port := redirectPort(address)
		if o.JSON {
			writeEvent(stdio.Out, browserSignInEvent{Event: "browser_sign_in", URL: address, Port: port})
			return nil
		}
		fmt.Fprintf(stdio.Err, "To sign in, open this address in a browser:\n\n    %s\n\n", address)
		fmt.Fprintf(stdio.Err, "On another computer, forward the port first: ssh -L %s:localhost:%s <this device>\n", port, port)
		fmt.Fprintf(stdio.Err, "%s\nWaiting for the browser...\n", phishingBrowserNote)
		return nil
	}
	res, err := si.client.SignInBrowser(ctx, o.Port, show)
	if err != nil {
		return err
	}
	fmt.Fprint(stdio.Err, si.rescueNote())
	if o.JSON {
		writeSignedIn(stdio, res, si)
		return nil
	}
	printSignedIn(stdio, res, si)
	return nil
}

// phishingBrowserNote is the browser sign-in's counterpart of the code's
// warning.
const phishingBrowserNote = "Only continue if you started this sign-in on this device."

// redirectPort is the loopback port in a sign-in address's redirect_uri.
func redirectPort(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return ""
	}
	r, err := url.Parse(u.Query().Get("redirect_uri"))
	if err != nil {
		return ""
	}
	return r.Port()
}

func printSignedIn(stdio Stdio, res auth.Result, si signedIn) {
	who := res.Account.Username
	if res.Account.Name != "" {
		who += " (" + res.Account.Name + ")"
	}
	fmt.Fprintf(stdio.Out, "Signed in as %s, tenant %s.\nTokens are kept in the %s.\n", who, res.Account.TenantID, si.choice.Store.Location())
}
