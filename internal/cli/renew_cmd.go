package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

type renewOptions struct {
	settings
	JSON bool
}

func newRenewCmd(stdio Stdio) *ffcli.Command {
	var o renewOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "renew",
			ShortUsage: "mapsdevice renew [flags]",
			ShortHelp:  "redeem the stored sign-in now, so it does not lapse unused",
			LongHelp: strings.TrimSpace(`
Redeem the stored refresh token now, even when a cached access token is
still valid, and print the days left of the 90-day window. Entra ID drops
a sign-in unused for 90 days (AADSTS700082); 'report' renews weekly by
itself, and packaging/mapsdevice-renew.timer runs this weekly on devices
without the reporter. Prints no token. Exit 2 when sign-in is needed, 3
when an administrator must act.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.register(fs)
			registerJSON(fs, &o.JSON, `write {"event":"renewed",..} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runRenew(ctx, stdio, o) },
	})
}

// renewedEvent is renew's result.
type renewedEvent struct {
	Event     string `json:"event"` // "renewed"
	Username  string `json:"username"`
	RenewedAt string `json:"renewed_at"`
	DaysLeft  int    `json:"days_left"`
}

func runRenew(ctx context.Context, stdio Stdio, o renewOptions) error {
	si, err := o.open(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdio.Err, si.fallbackNote())
	res, err := si.client.Fresh(ctx)
	if err != nil {
		return err
	}
	last, err := si.client.LastRenewed(ctx)
	if err != nil {
		return err
	}
	ev := renewedEvent{Event: "renewed", Username: res.Account.Username, RenewedAt: formatTime(last), DaysLeft: auth.DaysLeft(last, time.Now())}
	if o.JSON {
		writeEvent(stdio.Out, ev)
		return nil
	}
	fmt.Fprintf(stdio.Out, "Renewed the sign-in of %s; %d days left before it lapses unused.\n", ev.Username, ev.DaysLeft)
	return nil
}
