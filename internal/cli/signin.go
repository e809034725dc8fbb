package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/ui"
)

// screenOptions say how a sign-in is shown.
type screenOptions struct {
	JSON  bool
	Plain bool
	Kiosk bool
	Renew int
	Note  string
	// AppName is the app registration's display name (defaultAppName).
	AppName string
}

// signIn is one device code sign-in, shown as the terminal UI when the
// terminal is interactive and as plain text or JSON otherwise.
type signIn struct {
	stdio   Stdio
	command string // for messages: "mapsdevice login"
	s       settings
	si      signedIn
	screen  screenOptions
	// warning is said after the screen is gone, when the sign-in had to be
	// rescued into the plain file store.
	warning string
}

func (x *signIn) run(ctx context.Context) (auth.Result, error) {
	var res auth.Result
	var err error
	if !x.screen.JSON && !x.screen.Plain && x.stdio.interactive() {
		// Said after the screen, which would scroll it away.
		x.warning = x.si.fallbackNote()
		res, err = x.runTUI(ctx)
	} else {
		fmt.Fprint(x.stdio.Err, x.si.fallbackNote())
		res, err = x.runPlain(ctx)
	}
	if x.warning != "" {
		fmt.Fprint(x.stdio.Err, x.warning)
	}
	return res, err
}

func (x *signIn) runTUI(ctx context.Context) (auth.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends a wait still polling when the screen is left
	flow := ui.Flow{
		Start: x.start,
		Wait:  x.wait,
		Explain: func(err error) string {
			return explain(err, x.command, x.s).msg
		},
	}
	renew := x.screen.Renew
	if x.screen.Kiosk && renew == 0 {
		renew = kioskRenewals
	}
	sub := x.subject()
	model := ui.New(ctx, flow, ui.Options{Kiosk: x.screen.Kiosk, Renew: renew, Note: x.screen.Note, App: sub.App, Tenant: sub.Tenant, Scopes: sub.Scopes})
	// The screen draws on stderr; stdout stays for results. Bubble Tea
	// takes the terminal's modes from the files themselves.
	p := tea.NewProgram(model, tea.WithContext(ctx), tea.WithInput(x.stdio.In), tea.WithOutput(x.stdio.Err))
	final, err := p.Run()
	if err != nil && ctx.Err() == nil {
		return auth.Result{}, fmt.Errorf("terminal screen: %w", err)
	}
	m, ok := final.(ui.Model)
	if !ok {
		return auth.Result{}, context.Canceled
	}
	return m.Outcome()
}

// kioskRenewals is "keep going" for an unattended kiosk.
const kioskRenewals = 1 << 30

func (x *signIn) start(ctx context.Context) (*auth.DeviceCode, error) {
	dc, err := x.si.client.StartDeviceCode(ctx)
	if err == nil && dc.Reset != nil {
		x.warning += fmt.Sprintf("Note: %v; it was cleared so you could sign in again.\n", dc.Reset)
	}
	return dc, err
}

// wait waits for approval. A sign-in the keyring refused is kept in the
// plain file by the store; the user is told once the screen is gone.
func (x *signIn) wait(ctx context.Context, dc *auth.DeviceCode) (auth.Result, error) {
	res, err := dc.Wait(ctx)
	if err == nil {
		x.warning += x.si.rescueNote()
	}
	return res, err
}

func (x *signIn) runPlain(ctx context.Context) (auth.Result, error) {
	for renewed := 0; ; renewed++ {
		dc, err := x.start(ctx)
		if err != nil {
			return auth.Result{}, err
		}
		if x.screen.JSON {
			writeEvent(x.stdio.Out, deviceCodeEvent{
				Event:           "device_code",
				UserCode:        dc.UserCode,
				VerificationURI: dc.VerificationURL,
				ExpiresAt:       formatTime(dc.ExpiresAt),
				Interval:        int(dc.Interval.Seconds()),
				Message:         dc.Message,
				signInSubject:   x.subject(),
			})
		} else {
			printCode(x.stdio.Err, dc)
			x.subject().print(x.stdio.Err)
		}
		res, err := waitWithProgress(ctx, x.stdio.Err, dc, !x.screen.JSON, x.wait)
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Kind == auth.KindCodeExpired && renewed < x.screen.Renew {
			if !x.screen.JSON {
				fmt.Fprintln(x.stdio.Err, "The code expired; here is a new one.")
			}
			continue
		}
		return res, err
	}
}

func printCode(w io.Writer, dc *auth.DeviceCode) {
	fmt.Fprintf(w, "To sign in, open this page on a phone or computer:\n\n    %s\n\nand enter the code:\n\n    %s\n\n", dc.VerificationURL, dc.UserCode)
	if dc.VerificationURLComplete != "" {
		fmt.Fprintf(w, "Or open %s, which already holds the code.\n", dc.VerificationURLComplete)
	}
	fmt.Fprintf(w, "The code expires at %s (in %s). Waiting for approval...\n",
		dc.ExpiresAt.Local().Format("15:04:05 MST"), until(dc.ExpiresAt))
}

// progressEvery is how often a plain login says it is still waiting.
const progressEvery = 30 * time.Second

// waitWithProgress waits for approval; with progress, it says every
// progressEvery that it is still waiting, from a goroutine that ends
// before it returns.
func waitWithProgress(ctx context.Context, w io.Writer, dc *auth.DeviceCode, progress bool,
	wait func(context.Context, *auth.DeviceCode) (auth.Result, error)) (auth.Result, error) {
	if !progress {
		return wait(ctx, dc)
	}
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fmt.Fprintf(w, "Still waiting for approval (code %s, %s left)...\n", dc.UserCode, until(dc.ExpiresAt))
			}
		}
	}()
	res, err := wait(ctx, dc)
	close(stop)
	<-stopped
	return res, err
}
