package auth_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// The emulator listens over TLS here: these tests are about MSAL, and
// MSAL talks to Entra ID over TLS.

// testCtx bounds a test, so a client that polls wrongly fails instead of
// waiting for its code to expire.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
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
	srv := emulatortest.Start(t, emulator.Options{})
	store := &tokenstore.Memory{}
	c := emulatortest.NewClient(t, srv, store)

	dc, res, err := emulatortest.DeviceCode(t, ctx, c, func(code string) {
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

func TestDeviceCodeOutcomes(t *testing.T) {
	tests := []struct {
		name string
		user emulator.User
		act  func(srv *emulator.Server, code string) error
		want auth.Kind
	}{
		{"declined", emulator.User{}, func(srv *emulator.Server, code string) error { return srv.Deny(code) }, auth.KindDeclined},
		{"expired", emulator.User{}, func(srv *emulator.Server, code string) error { return srv.Expire(code) }, auth.KindCodeExpired},
		{"conditional access", emulator.User{Username: "kiosk@emulator.test", BlockedByConditionalAccess: true},
			func(srv *emulator.Server, code string) error { return srv.Approve(code, "kiosk@emulator.test") }, auth.KindConditionalAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := emulator.Options{}
			if tt.user.Username != "" {
				opts.Users = []emulator.User{tt.user}
			}
			srv := emulatortest.Start(t, opts)
			store := &tokenstore.Memory{}
			c := emulatortest.NewClient(t, srv, store)
			_, _, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) {
				if err := tt.act(srv, code); err != nil {
					t.Errorf("emulator: %v", err)
				}
			})
			if got, ok := kindOf(err); !ok || got != tt.want {
				t.Fatalf("Wait = %v (kind %v), want kind %v", err, got, tt.want)
			}
			if _, err := c.Token(t.Context()); !isSignInNeeded(err) {
				t.Errorf("after a failed sign-in Token = %v, want sign-in needed", err)
			}
		})
	}
}

func isSignInNeeded(err error) bool {
	k, ok := kindOf(err)
	return ok && k == auth.KindSignInNeeded
}

// TestPollingHonoursInterval checks, from the emulator's poll log, that the
// client waits the server's interval between polls (MSAL alone would poll
// at 50 ms, 150 ms, 450 ms...).
func TestPollingHonoursInterval(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	srv := emulatortest.Start(t, emulator.Options{Interval: interval})
	c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
	dc, err := c.StartDeviceCode(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if dc.Interval != interval {
		t.Errorf("interval %v, want %v", dc.Interval, interval)
	}
	time.AfterFunc(5*time.Second, func() { srv.Approve(dc.UserCode, "") })
	if _, err := dc.Wait(testCtx(t)); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	polls := srv.Polls(dc.UserCode)
	if len(polls) < 2 || len(polls) > 4 {
		t.Errorf("%d polls in about 5 s with a %v interval, want 2 to 4", len(polls), interval)
	}
	for i := 1; i < len(polls); i++ {
		if gap := polls[i].Time.Sub(polls[i-1].Time); gap < interval-50*time.Millisecond {
			t.Errorf("poll %d came %v after the one before, want at least %v", i, gap, interval)
		}
	}
	for _, p := range polls {
		if p.Result == "slow_down" {
			t.Errorf("the emulator had to say slow_down: %+v", polls)
		}
	}
}

// TestEmulatorSaysSlowDownToUnpacedMSAL shows what the pacer prevents: MSAL
// on its own polls too fast for the interval.
func TestEmulatorSaysSlowDownToUnpacedMSAL(t *testing.T) {
	t.Parallel()
	srv := emulatortest.Start(t, emulator.Options{Interval: 2 * time.Second})
	app, err := public.New(srv.ClientID(), public.WithAuthority(srv.Authority()),
		public.WithHTTPClient(srv.Client()), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := app.AcquireTokenByDeviceCode(t.Context(), []string{auth.MapsScope})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(1500*time.Millisecond, func() { srv.Approve(dc.Result.UserCode, "") })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dc.AuthenticationResult(ctx)
	slow := 0
	for _, p := range srv.Polls(dc.Result.UserCode) {
		if p.Result == "slow_down" {
			slow++
		}
	}
	if slow == 0 {
		t.Errorf("unpaced MSAL never got slow_down: %+v", srv.Polls(dc.Result.UserCode))
	}
}

// TestSlowDownAddsFiveSeconds injects one slow_down and checks from the
// request log that the next poll waits interval + 5 s (RFC 8628 §3.5).
func TestSlowDownAddsFiveSeconds(t *testing.T) {
	t.Parallel()
	const interval = time.Second
	srv := emulatortest.Start(t, emulator.Options{Interval: interval})
	c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
	dc, err := c.StartDeviceCode(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(emulator.EndpointToken, emulator.Fault{Status: 400, Error: "slow_down"})
	time.AfterFunc(7500*time.Millisecond, func() { srv.Approve(dc.UserCode, "") })
	if _, err := dc.Wait(testCtx(t)); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	var polls []time.Time
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointToken {
			polls = append(polls, r.Time)
		}
	}
	if len(polls) < 2 {
		t.Fatalf("%d polls", len(polls))
	}
	if gap := polls[1].Sub(polls[0]); gap < interval+5*time.Second-50*time.Millisecond {
		t.Errorf("after slow_down the next poll came %v later, want at least %v", gap, interval+5*time.Second)
	}
	for i := 2; i < len(polls); i++ {
		if gap := polls[i].Sub(polls[i-1]); gap < interval+5*time.Second-50*time.Millisecond {
			t.Errorf("poll %d came %v after the one before: the slow_down was forgotten", i, gap)
		}
	}
}

// shortLived makes access tokens that MSAL, which treats a token as expired
// five minutes early, stops using about a second after issue.
const shortLived = 5*time.Minute + time.Second

func waitForExpiry() { time.Sleep(1500 * time.Millisecond) }

func TestRevokedRefreshToken(t *testing.T) {
	t.Parallel()
	srv := emulatortest.Start(t, emulator.Options{AccessTokenLifetime: shortLived})
	c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
	if _, _, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) { srv.Approve(code, "") }); err != nil {
		t.Fatal(err)
	}
	waitForExpiry()
	if res, err := c.Token(t.Context()); err != nil || res.FromCache {
		t.Fatalf("refresh before revocation: %v (from cache %v)", err, res.FromCache)
	}
	if n := srv.RevokeRefreshTokens(emulator.ContributorUser); n == 0 {
		t.Fatal("nothing to revoke")
	}
	waitForExpiry()
	_, err := c.Token(t.Context())
	var e *auth.Error
	if !errors.As(err, &e) || e.Kind != auth.KindSignInNeeded || e.Code != 50173 {
		t.Fatalf("Token after revocation = %v, want sign-in needed with AADSTS50173", err)
	}
}

// TestRotatedRefreshTokenSurvivesRestart restarts the emulator and the
// client (a new process would build both anew) with single-use refresh
// tokens: only a store that kept every rotated token can still refresh.
func TestRotatedRefreshTokenSurvivesRestart(t *testing.T) {
	t.Parallel()
	state, home := t.TempDir(), t.TempDir()
	opts := emulator.Options{StateDir: state, AccessTokenLifetime: shortLived, SingleUseRefreshTokens: true}
	srv := emulatortest.Start(t, opts)
	opts.Listen = strings.TrimPrefix(srv.URL(), "https://")
	c := emulatortest.NewClient(t, srv, tokenstore.NewFile(home, "default"))
	if _, _, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) { srv.Approve(code, "") }); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		waitForExpiry()
		if res, err := c.Token(t.Context()); err != nil || res.FromCache {
			t.Fatalf("refresh %d: %v (from cache %v)", i, err, res.FromCache)
		}
	}
	srv.Close()
	srv = emulatortest.Start(t, opts)
	c = emulatortest.NewClient(t, srv, tokenstore.NewFile(home, "default"))
	waitForExpiry()
	res, err := c.Token(t.Context())
	if err != nil || res.FromCache {
		t.Fatalf("refresh after restart: %v (from cache %v)", err, res.FromCache)
	}
	if res.Account.Username != emulator.ContributorUser {
		t.Errorf("account %q after restart", res.Account.Username)
	}
}

func TestSignOutForgetsEverything(t *testing.T) {
	t.Parallel()
	srv := emulatortest.Start(t, emulator.Options{})
	home := t.TempDir()
	store := tokenstore.NewFile(home, "default")
	c := emulatortest.NewClient(t, srv, store)
	if _, _, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) { srv.Approve(code, "") }); err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store.Path()); !os.IsNotExist(err) {
		t.Errorf("token file still there after sign-out: %v", err)
	}
	if _, err := c.Token(t.Context()); !isSignInNeeded(err) {
		t.Errorf("Token after sign-out = %v, want sign-in needed", err)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	t.Run("unknown client id", func(t *testing.T) {
		c, _ := auth.New(auth.Config{Authority: srv.Authority(), ClientID: "11111111-2222-3333-4444-555555555555", Transport: srv.Client().Transport, Store: &tokenstore.Memory{}})
		_, err := c.StartDeviceCode(t.Context())
		if k, _ := kindOf(err); k != auth.KindUnknownClient {
			t.Errorf("got %v, want unknown client", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		c, _ := auth.New(auth.Config{Authority: srv.Authority(), ClientID: srv.ClientID(), Store: &tokenstore.Memory{}})
		_, err := c.StartDeviceCode(t.Context())
		if k, _ := kindOf(err); k != auth.KindUntrusted {
			t.Errorf("got %v, want untrusted", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		c, _ := auth.New(auth.Config{Authority: "https://" + addr + "/organizations", ClientID: srv.ClientID(), Transport: srv.Client().Transport, Store: &tokenstore.Memory{}})
		_, err := c.StartDeviceCode(t.Context())
		if k, _ := kindOf(err); k != auth.KindNetwork {
			t.Errorf("got %v, want network", err)
		}
	})
	t.Run("server error", func(t *testing.T) {
		srv.InjectFault(emulator.EndpointDeviceCode, emulator.Fault{Status: 503})
		c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
		_, err := c.StartDeviceCode(t.Context())
		if k, _ := kindOf(err); k != auth.KindService || strings.Contains(err.Error(), "{") {
			t.Errorf("got %v, want a service error with no raw body", err)
		}
	})
	t.Run("token folder is a file", func(t *testing.T) {
		// A local fault, not the network: EACCES and ENOTDIR are net.Errors too.
		notDir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(notDir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		c := emulatortest.NewClient(t, srv, tokenstore.NewFile(filepath.Join(notDir, "state"), "default"))
		_, err := c.Token(t.Context())
		if k, _ := kindOf(err); k != auth.KindStore {
			t.Errorf("got %v, want a token store error", err)
		}
	})
	t.Run("no client id", func(t *testing.T) {
		if _, err := auth.New(auth.Config{Store: &tokenstore.Memory{}}); !errors.Is(err, auth.ErrNoClientID) {
			t.Errorf("got %v, want ErrNoClientID", err)
		}
	})
}

func TestUnreadableStoreIsReplacedAtLogin(t *testing.T) {
	t.Parallel()
	srv := emulatortest.Start(t, emulator.Options{})
	home := t.TempDir()
	store := tokenstore.NewFile(home, "default")
	if err := store.Write([]byte("not json")); err != nil {
		t.Fatal(err)
	}
	c := emulatortest.NewClient(t, srv, store)
	if _, err := c.Token(t.Context()); !isSignInNeeded(err) {
		t.Fatalf("Token on a corrupt store = %v, want sign-in needed", err)
	}
	dc, res, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) { srv.Approve(code, "") })
	if err != nil || dc.Reset == nil || res.Account.Username == "" {
		t.Fatalf("login over a corrupt store: %v (reset %v)", err, dc.Reset)
	}
}

func TestFreshIgnoresTheCache(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	c := emulatortest.NewClient(t, srv, &tokenstore.Memory{})
	_, first, err := emulatortest.DeviceCode(t, testCtx(t), c, func(code string) { srv.Approve(code, "") })
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Fresh(t.Context())
	if err != nil {
		t.Fatalf("Fresh: %v", err)
	}
	if res.FromCache || res.AccessToken == first.AccessToken {
		t.Error("Fresh returned the cached token")
	}
	if again, _ := c.Token(t.Context()); again.AccessToken != res.AccessToken {
		t.Error("the fresh token was not cached for the next silent call")
	}
}
