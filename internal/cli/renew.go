package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/backoff"
)

// renewer is the part of the device code client renewal needs.
type renewer interface {
	LastRenewed(ctx context.Context) (time.Time, error)
	Fresh(ctx context.Context) (auth.Result, error)
}

// signInAlarm writes one sign_in_needed event on stdout while the
// sign-in stays lost, so a kiosk's own screen can call for a person; a
// renewal that works again re-arms it.
type signInAlarm struct {
	mu      sync.Mutex
	out     io.Writer
	command string
	s       settings
	raised  bool
}

// signInNeededEvent says the stored sign-in can no longer be used.
type signInNeededEvent struct {
	Event   string `json:"event"` // "sign_in_needed"
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (a *signInAlarm) raise(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.raised {
		return
	}
	a.raised = true
	ee := explain(err, a.command, a.s)
	writeEvent(a.out, signInNeededEvent{Event: "sign_in_needed", Code: ee.errCode, Message: ee.msg})
}

func (a *signInAlarm) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.raised = false
}

// renewRetry is how long renewal waits after a failure that may pass.
const renewRetry = time.Hour

// keepSignInAlive redeems the refresh token whenever it was last
// redeemed every ago or more, so that an idle device never reaches
// Entra ID's 90-day limit, until ctx ends. A sign-in lost for good
// raises the alarm; renewal keeps trying, since a person may sign in
// again meanwhile.
func keepSignInAlive(ctx context.Context, c renewer, every, retry time.Duration, alarm *signInAlarm, log *slog.Logger) {
	for {
		wait := every
		last, err := c.LastRenewed(ctx)
		switch {
		case err != nil:
			wait = retry
		case last.IsZero():
			// Not signed in (or a shared key): check again later.
		case time.Since(last) >= every:
			if _, err := c.Fresh(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				wait = retry
				log.Warn("the stored sign-in could not be renewed", "error", err.Error())
				if auth.SignInLost(err) {
					alarm.raise(err)
				}
				break
			}
			alarm.clear()
			log.Info("renewed the stored sign-in")
		default:
			wait = time.Until(last.Add(every))
		}
		if backoff.Sleep(ctx, max(wait, time.Second)) != nil {
			return
		}
	}
}

// startSignInRenewal starts keepSignInAlive, weekly, for report's device
// code sign-in, if it has one, and returns a func that stops it and waits.
// App credentials and shared keys have no refresh token to keep.
func startSignInRenewal(ctx context.Context, stdio Stdio, s settings, log *slog.Logger) (alarm *signInAlarm, stop func()) {
	alarm = &signInAlarm{out: stdio.Out, command: "mapsdevice report", s: s}
	if s.Cred.app() || s.ClientID == "" {
		return alarm, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Opened here, so a keyring that is slow to answer does not hold
		// up the reporter's start.
		si, err := s.open(ctx)
		if err != nil {
			return // the reporter's own use of the sign-in says why
		}
		keepSignInAlive(ctx, si.client, auth.RenewEvery, renewRetry, alarm, log)
	}()
	return alarm, func() { cancel(); <-done }
}
