package keyvault_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/keyvault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// appTokens are the emulator's daemon app's tokens through the real MSAL
// client, counted.
type appTokens struct {
	app   *auth.App
	asked atomic.Int64
}

func (a *appTokens) Token(ctx context.Context, resource string) (string, error) {
	a.asked.Add(1)
	res, err := a.app.AccessToken(ctx, resource, false)
	return res.AccessToken, err
}

func newAppTokens(t *testing.T, srv *emulator.Server, clientID, secret string) *appTokens {
	t.Helper()
	app, err := auth.NewClientSecret(auth.AppConfig{Authority: srv.Authority(), ClientID: clientID, Transport: srv.Client().Transport},
		auth.SecretSource{Value: secret})
	if err != nil {
		t.Fatal(err)
	}
	return &appTokens{app: app}
}

func parse(t *testing.T, raw string) keyvault.SecretURL {
	t.Helper()
	s, err := keyvault.ParseSecretURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestGetSecret: the challenge, a token for the resource it names, and
// the secret: the Maps key, rotated together with the account's.
func TestGetSecret(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, secret := srv.SecretApp()
	tokens := newAppTokens(t, srv, clientID, secret)
	kv := &keyvault.Client{HTTP: srv.Client(), Tokens: tokens}

	got, err := kv.Get(ctxOf(t), parse(t, srv.VaultSecretURL()))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Value != srv.SharedKeys()[0] {
		t.Error("the secret is not the Maps primary key")
	}
	if err := srv.RotateMapsKey(); err != nil {
		t.Fatal(err)
	}
	again, err := kv.Get(ctxOf(t), parse(t, srv.VaultSecretURL()+"/"))
	if err != nil {
		t.Fatalf("Get after rotation: %v", err)
	}
	if again.Value != srv.SharedKeys()[0] || again.Value == got.Value {
		t.Error("after rotation the secret is not the new primary key")
	}
	// The first version is still there, by its id.
	old, err := kv.Get(ctxOf(t), parse(t, got.ID))
	if err != nil {
		t.Fatalf("Get %s: %v", got.ID, err)
	}
	if old.Value != got.Value {
		t.Error("the first version changed")
	}
}

// TestRefusals: 403 without the role and 404 for no such secret, as Key
// Vault sends them.
func TestRefusals(t *testing.T) {
	stranger := emulator.App{Name: "no-vault", ClientID: "0b1e6f2a-6d61-4073-9de7-00000000a001", Role: emulator.RoleDataContributor,
		Secrets: []emulator.AppSecret{{Value: "a-secret-with-no-vault-role"}}}
	srv := emulatortest.Start(t, emulator.Options{Apps: []emulator.App{stranger}})
	clientID, secret := srv.SecretApp()
	tests := []struct {
		name    string
		tokens  keyvault.TokenSource
		secret  string
		status  int
		code    string
		inner   string
		mention string // in Key Vault's message
	}{
		{"no role", newAppTokens(t, srv, stranger.ClientID, "a-secret-with-no-vault-role"), srv.VaultSecretURL(), 403, "Forbidden", "ForbiddenByRbac", "appid=" + stranger.ClientID},
		{"no such secret", newAppTokens(t, srv, clientID, secret), strings.Replace(srv.VaultSecretURL(), "maps-key", "no-such-key", 1), 404, "SecretNotFound", "", "no-such-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := &keyvault.Client{HTTP: srv.Client(), Tokens: tt.tokens}
			_, err := kv.Get(ctxOf(t), parse(t, tt.secret))
			var ke *keyvault.Error
			if !errors.As(err, &ke) || ke.Status != tt.status || ke.Code != tt.code || ke.Inner != tt.inner {
				t.Fatalf("Get: %v, want %d %s (%s)", err, tt.status, tt.code, tt.inner)
			}
			if !strings.Contains(ke.Message, tt.mention) {
				t.Errorf("message %q does not say %q", ke.Message, tt.mention)
			}
		})
	}
}

// hostTransport reaches the emulator under another host name, as a
// vault on a real domain would be reached.
func hostTransport(t *testing.T, srv *emulator.Server) *http.Transport {
	u, _ := url.Parse(srv.URL())
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, u.Host)
		},
		TLSClientConfig: &tls.Config{RootCAs: srv.CertPool(), ServerName: "localhost", MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// TestChallengeMustBelongToTheVault: a host whose challenge names a
// resource it is not under gets no token; a vault under the resource's
// domain, and a loopback one, do.
func TestChallengeMustBelongToTheVault(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, secret := srv.SecretApp()
	tests := []struct {
		host   string
		wantOK bool
	}{
		{"demo.vault.azure.net", true},
		{"vault.example.com", false},
		{"vault.azure.net.example.com", false},
		{"evilvault.azure.net", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			tokens := newAppTokens(t, srv, clientID, secret)
			kv := &keyvault.Client{HTTP: &http.Client{Transport: hostTransport(t, srv)}, Tokens: tokens}
			_, err := kv.Get(ctxOf(t), parse(t, "https://"+tt.host+"/kv/demo/secrets/maps-key"))
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				return
			}
			if !errors.Is(err, keyvault.ErrChallenge) {
				t.Fatalf("Get: %v, want ErrChallenge", err)
			}
			if n := tokens.asked.Load(); n != 0 {
				t.Errorf("a token was asked for %d times, want never", n)
			}
		})
	}
}

func TestParseSecretURL(t *testing.T) {
	tests := []struct {
		in                   string
		vault, name, version string
	}{
		{"https://contoso.vault.azure.net/secrets/maps-key", "https://contoso.vault.azure.net", "maps-key", ""},
		{"https://contoso.vault.azure.net/secrets/maps-key/", "https://contoso.vault.azure.net", "maps-key", ""},
		{"https://contoso.vault.azure.net/secrets/maps-key/0123abcd", "https://contoso.vault.azure.net", "maps-key", "0123abcd"},
		{"https://127.0.0.1:8443/kv/demo/secrets/maps-key", "https://127.0.0.1:8443/kv/demo", "maps-key", ""},
		{"http://contoso.vault.azure.net/secrets/maps-key", "", "", ""},
		{"https://contoso.vault.azure.net/keys/maps-key", "", "", ""},
		{"https://contoso.vault.azure.net/secrets/", "", "", ""},
		{"https://contoso.vault.azure.net/secrets/a/b/c", "", "", ""},
		{"https://contoso.vault.azure.net/secrets/a?api-version=7.6", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := keyvault.ParseSecretURL(tt.in)
			if tt.vault == "" {
				if err == nil {
					t.Fatalf("parsed as %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Vault.String() != tt.vault || got.Name != tt.name || got.Version != tt.version {
				t.Errorf("got %s %s %s, want %s %s %s", got.Vault, got.Name, got.Version, tt.vault, tt.name, tt.version)
			}
		})
	}
}
