// Package emulatortest starts emulators for tests and signs in against
// them through the real MSAL client.
package emulatortest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
)

// Start starts an emulator listening over TLS and closes it when the test
// ends. The polling interval defaults to 1 s, the shortest Entra allows.
func Start(t testing.TB, opts emulator.Options) *emulator.Server {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	return srv
}

// StartInMemory starts an emulator with no listener, reached only through
// its Client, and closes it when the test ends.
func StartInMemory(t testing.TB, opts emulator.Options) *emulator.Server {
	t.Helper()
	opts.NoListener = true
	return Start(t, opts)
}

// NewClient is a sign-in client for the emulator's tenant and app, over
// the emulator's transport; a nil store means a memory store.
func NewClient(t testing.TB, srv *emulator.Server, store auth.Store) *auth.Client {
	t.Helper()
	if store == nil {
		store = &tokenstore.Memory{}
	}
	c, err := auth.New(auth.Config{
		Authority: srv.Authority(),
		ClientID:  srv.ClientID(),
		Transport: srv.Client().Transport,
		Store:     store,
	})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return c
}

// DeviceCode runs the device code flow on c, with act playing the person
// who has the user code, and returns how it ended.
func DeviceCode(t testing.TB, ctx context.Context, c *auth.Client, act func(userCode string)) (*auth.DeviceCode, auth.Result, error) {
	t.Helper()
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatalf("StartDeviceCode: %v", err)
	}
	act(dc.UserCode)
	res, err := dc.Wait(ctx)
	return dc, res, err
}

// SignIn signs user in ("" is the emulator's first user) through the
// device code flow and returns the signed-in client, whose tokens live in
// memory.
func SignIn(t testing.TB, srv *emulator.Server, user string) *auth.Client {
	t.Helper()
	// Bounded, so a client that polls wrongly fails the test instead of
	// waiting for its code to expire.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := NewClient(t, srv, nil)
	_, _, err := DeviceCode(t, ctx, c, func(code string) {
		if err := srv.Approve(code, user); err != nil {
			t.Errorf("approve %s: %v", user, err)
		}
	})
	if err != nil {
		t.Fatalf("sign in as %q: %v", user, err)
	}
	return c
}

// Tokens hands out a signed-in client's access tokens, as the Maps client
// asks for them, and counts the fresh ones.
type Tokens struct {
	Client *auth.Client
	fresh  atomic.Int64
}

// Token returns a cached token, or with refresh a new one.
func (t *Tokens) Token(ctx context.Context, refresh bool) (string, error) {
	get := t.Client.Token
	if refresh {
		t.fresh.Add(1)
		get = t.Client.Fresh
	}
	res, err := get(ctx)
	return res.AccessToken, err
}

// Fresh is how many times a fresh token was asked for.
func (t *Tokens) Fresh() int { return int(t.fresh.Load()) }

// IMDSAddress is where clients find IMDS; MSAL cannot be told otherwise.
const IMDSAddress = "169.254.169.254:80"

// IMDSClient reaches the emulator's IMDS endpoint at IMDS's fixed address:
// its dialer takes connections for IMDSAddress to the emulator, over TLS
// under the plain HTTP IMDS speaks. Nothing else is reachable, and no
// proxy is used, as none may be for IMDS.
func IMDSClient(t testing.TB, srv *emulator.Server) *http.Client {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil || u.Scheme != "https" {
		t.Fatalf("IMDSClient needs an emulator listening over TLS, not %s", srv.URL())
	}
	dialer := &tls.Dialer{Config: &tls.Config{RootCAs: srv.CertPool(), ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != IMDSAddress {
				return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError("only IMDS is reachable here, not " + addr)}
			}
			return dialer.DialContext(ctx, "tcp", u.Host)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
