package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/auth"
	"github.com/mapsdevice/mapsdevice/auth/tokenstore"
)

type loginOptions struct {
	settings
	JSON bool
}

func newLoginCmd(stdio Stdio) *ffcli.Command {
	var o loginOptions
	fs := newFlagSet("login", stdio)
	o.register(fs)
	fs.BoolVar(&o.JSON, "json", false, "write NDJSON events to stdout")
	return &ffcli.Command{
		Name:       "login",
		ShortUsage: "mapsdevice login [flags]",
		ShortHelp:  "sign in with a code approved on a phone or computer",
		LongHelp: strings.TrimSpace(`
Sign in with the device code flow: mapsdevice shows a code and a web address;
open the address on any phone or computer, enter the code and approve. The
sign-in is kept (see --token-store), so later commands need no one present.

With --json, events go to stdout as NDJSON lines, with these fields:
  device_code  user_code, verification_uri, expires_at, interval, message
  signed_in    username, tenant_id, expires_at, token_store
  error        code, message
for example {"event":"signed_in","username":"ana@contoso.com",...}.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return finish(stdio, o.settings, o.JSON, usageError{fmt.Errorf("login takes no arguments, got %q", args[0])})
			}
			return finish(stdio, o.settings, o.JSON, runLogin(ctx, stdio, o))
		},
	}
}

func runLogin(ctx context.Context, stdio Stdio, o loginOptions) error {
	si, err := o.open(ctx, stdio)
	if err != nil {
		return err
	}
	res, si, err := deviceSignIn(ctx, stdio, si, o.settings, o.JSON)
	if err != nil {
		return err
	}
	if o.JSON {
		writeEvent(stdio.Out, map[string]any{
			"event":       "signed_in",
			"username":    res.Account.Username,
			"tenant_id":   res.Account.TenantID,
			"expires_at":  formatTime(res.ExpiresOn),
			"token_store": si.choice.Store.Kind(),
		})
		return nil
	}
	who := res.Account.Username
	if res.Account.Name != "" {
		who += " (" + res.Account.Name + ")"
	}
	fmt.Fprintf(stdio.Out, "Signed in as %s, tenant %s.\nTokens are kept in the %s.\n", who, res.Account.TenantID, si.choice.Store.Location())
	return nil
}

// deviceSignIn shows a code, waits for approval and keeps the sign-in. If
// the keyring refuses it, the sign-in is saved in a plain file instead, and
// the user is told; the returned signedIn is then the file store's.
func deviceSignIn(ctx context.Context, stdio Stdio, si signedIn, s settings, asJSON bool) (auth.Result, signedIn, error) {
	dc, err := si.client.StartDeviceCode(ctx)
	if err != nil {
		return auth.Result{}, si, err
	}
	if dc.Reset != nil {
		fmt.Fprintf(stdio.Err, "Note: %v; it was cleared so you can sign in again.\n", dc.Reset)
	}
	if asJSON {
		writeEvent(stdio.Out, map[string]any{
			"event":            "device_code",
			"user_code":        dc.UserCode,
			"verification_uri": dc.VerificationURL,
			"expires_at":       formatTime(dc.ExpiresAt),
			"interval":         int(dc.Interval.Seconds()),
			"message":          dc.Message,
		})
	} else {
		printCode(stdio.Err, dc)
	}
	res, err := waitWithProgress(ctx, stdio.Err, dc, !asJSON)
	var unsaved *tokenstore.UnsavedError
	if !errors.As(err, &unsaved) {
		return res, si, err
	}
	return rescue(ctx, stdio, s, unsaved)
}

func rescue(ctx context.Context, stdio Stdio, s settings, unsaved *tokenstore.UnsavedError) (auth.Result, signedIn, error) {
	file := tokenstore.NewFile(s.Home, s.Profile)
	if err := file.Write(unsaved.Data); err != nil {
		return auth.Result{}, signedIn{}, &exitError{code: ExitError, errCode: "store", msg: fmt.Sprintf(
			"You were signed in, but the sign-in could not be stored: %v; and saving it in %s failed too: %v.\nFree some disk space or fix the permissions of %s, then run 'mapsdevice login' again.",
			unsaved.Err, file.Path(), err, s.Home)}
	}
	fmt.Fprintf(stdio.Err, "Warning: the sign-in could not be stored through the OS keyring (%v).\n"+
		"So that it is not lost, it was saved in the %s instead.\n"+
		"Later commands find it there with --token-store auto or file. To move it into the keyring, fix the keyring, run 'mapsdevice logout', then sign in again.\n",
		unsaved.Err, file.Location())
	fs := s
	fs.TokenStore = tokenstore.KindFile
	si, err := fs.open(ctx, stdio)
	if err != nil {
		return auth.Result{}, si, err
	}
	res, err := si.client.Token(ctx)
	return res, si, err
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

func waitWithProgress(ctx context.Context, w io.Writer, dc *auth.DeviceCode, progress bool) (auth.Result, error) {
	type outcome struct {
		res auth.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := dc.Wait(ctx)
		done <- outcome{res, err}
	}()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			return o.res, o.err
		case <-tick.C:
			if progress {
				fmt.Fprintf(w, "Still waiting for approval (code %s, %s left)...\n", dc.UserCode, until(dc.ExpiresAt))
			}
		}
	}
}
