package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/auth"
	"github.com/mapsdevice/mapsdevice/auth/tokenstore"
	"github.com/mapsdevice/mapsdevice/emulator"
)

func newEmulator(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func newClient(t *testing.T, srv *emulator.Server, store auth.Store) *auth.Client {
	t.Helper()
	c, err := auth.New(auth.Config{
		Authority: srv.Authority(),
		ClientID:  srv.ClientID(),
		CAFile:    srv.CAFile(),
		Store:     store,
	})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return c
}

// signIn runs the device code flow, with approve acting as the person.
func signIn(t *testing.T, ctx context.Context, c *auth.Client, act func(userCode string)) (*auth.DeviceCode, auth.Result, error) {
	t.Helper()
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatalf("StartDeviceCode: %v", err)
	}
	act(dc.UserCode)
	res, err := dc.Wait(ctx)
	return dc, res, err
}

func kindOf(err error) (auth.Kind, bool) {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	return 0, false
}

func TestDeviceCodeApproveThenSilent(t *testing.T) {
	ctx := t.Context()
	srv := newEmulator(t, emulator.Options{})
	store := &tokenstore.Memory{}
	c := newClient(t, srv, store)

	dc, res, err := signIn(t, ctx, c, func(code string) {
		if err := srv.Approve(code, emulator.ReaderUser); err != nil {
			t.Errorf("Approve: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got, want := res.Account.Username, emulator.ReaderUser; got != want {
		t.Errorf("signed in as %q, want %q", got, want)
	}
	if res.Account.TenantID != srv.TenantID() {
		t.Errorf("tenant %q, want %q", res.Account.TenantID, srv.TenantID())
	}
	if dc.VerificationURL != srv.URL()+"/devicelogin" {
		t.Errorf("verification URL %q", dc.VerificationURL)
	}
	claims, err := srv.VerifyAccessToken(res.AccessToken)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if claims["aud"] != emulator.MapsAudience || claims["scp"] != "user_impersonation" {
		t.Errorf("claims aud=%v scp=%v", claims["aud"], claims["scp"])
	}

	before := len(srv.Requests())
	again, err := c.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !again.FromCache || again.AccessToken != res.AccessToken {
		t.Errorf("silent token did not come from the cache")
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("a cached token made %d requests, want 0", n)
	}
}
