package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// settings are the sign-in flag group: what every command that signs in
// or uses the sign-in registers.
type settings struct {
	Tenant     string
	Authority  string
	ClientID   string
	Scope      string
	TokenStore string
	CAFile     string
	Profile    string
	Home       string
	// Cred is the credential group, registered only by the commands that
	// need a token; the others sign in with a device code.
	Cred credentialFlags
}

func (s *settings) register(fs *flag.FlagSet) {
	fs.StringVar(&s.Tenant, "tenant", auth.DefaultTenant, "Entra ID tenant id or domain (ignored when --authority is set)")
	fs.StringVar(&s.Authority, "authority", "", "full authority URL, https://HOST/TENANT; overrides --tenant")
	fs.StringVar(&s.ClientID, "client-id", "", "application (client) id of your app registration")
	fs.StringVar(&s.Scope, "scope", auth.MapsScope, "scopes to ask for, separated by spaces")
	fs.StringVar(&s.TokenStore, "token-store", "auto", "where tokens are kept: auto, keyring, file or memory")
	fs.StringVar(&s.CAFile, "ca-file", "", "extra PEM CA bundle to trust, such as the emulator's ca.pem")
	fs.StringVar(&s.Profile, "profile", "default", "name of the sign-in, to keep several apart")
	fs.StringVar(&s.Home, "home", defaultHome(), "state folder for tokens")
}

// registerWithCredential is the sign-in group and the credential group.
func (s *settings) registerWithCredential(fs *flag.FlagSet) {
	s.register(fs)
	s.Cred.register(fs)
}

func (s settings) authorityHint() string {
	if a, err := (auth.Config{Authority: s.Authority, Tenant: s.Tenant}).ResolveAuthority(); err == nil {
		return a
	}
	return s.Authority
}

// signedIn is an auth client with the store it uses.
type signedIn struct {
	client *auth.Client
	choice tokenstore.Choice
}

// open builds the client. When auto had to fall back to a plain file,
// the returned choice says so; the caller tells the user (fallbackNote).
func (s settings) open(ctx context.Context) (signedIn, error) {
	if strings.ContainsAny(s.Profile, `/\`) || s.Profile == "" || strings.HasPrefix(s.Profile, ".") {
		return signedIn{}, usageError{fmt.Errorf("--profile %q: use letters, digits, dashes or dots", s.Profile)}
	}
	if strings.TrimSpace(s.ClientID) == "" {
		return signedIn{}, auth.ErrNoClientID
	}
	switch s.TokenStore {
	case "", "auto", tokenstore.KindKeyring, tokenstore.KindFile, tokenstore.KindMemory:
	default:
		return signedIn{}, usageError{fmt.Errorf("--token-store %q: use auto, keyring, file or memory", s.TokenStore)}
	}
	tr, err := newTransport(s.CAFile)
	if err != nil {
		return signedIn{}, err
	}
	choice, err := tokenstore.Open(ctx, s.TokenStore, s.Home, s.Profile, tokenstore.OSKeyring{Timeout: 3 * time.Second})
	if err != nil {
		return signedIn{}, err
	}
	client, err := auth.New(auth.Config{
		Authority: s.Authority,
		Tenant:    s.Tenant,
		ClientID:  s.ClientID,
		Scopes:    strings.Fields(s.Scope),
		Transport: tr,
		Store:     choice.Store,
	})
	if err != nil {
		return signedIn{}, usageError{err}
	}
	return signedIn{client: client, choice: choice}, nil
}

// fallbackNote is the notice for a store auto chose for lack of a keyring.
func (si signedIn) fallbackNote() string {
	if si.choice.NoKeyring == nil {
		return ""
	}
	return fmt.Sprintf("Note: no OS keyring answered (%v), so tokens are kept in the %s; use --token-store keyring to require a keyring.\n",
		si.choice.NoKeyring, si.choice.Store.Location())
}

// rescueNote is the warning for a sign-in the keyring refused, which the
// store kept in the plain file instead.
func (si signedIn) rescueNote() string {
	fb, ok := si.choice.Store.(*tokenstore.Fallback)
	if !ok || fb.Rescued() == nil {
		return ""
	}
	return fmt.Sprintf("Warning: the sign-in could not be stored through the OS keyring (%v).\n"+
		"So that it is not lost, it was saved in the %s instead.\n"+
		"Later commands find it there with --token-store auto or file. To move it into the keyring, fix the keyring, run 'mapsdevice logout', then sign in again.\n",
		fb.Rescued(), fb.Location())
}

// storeName is the token store as status shows it.
func (si signedIn) storeName() string {
	if si.choice.Auto {
		return si.choice.Store.Kind() + " (chosen automatically)"
	}
	return si.choice.Store.Kind()
}

// newTransport is the HTTPS transport, trusting --ca-file too. A CA file
// that cannot be read or holds no certificate is a usage error.
func newTransport(caFile string) (http.RoundTripper, error) {
	tr, err := azmaps.NewTransport(caFile)
	if err != nil {
		return nil, usageError{fmt.Errorf("--ca-file: %w", err)}
	}
	return tr, nil
}

// until is a short human duration from now.
func until(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	if d <= 0 {
		return "now"
	}
	if d >= time.Minute {
		d = d.Round(time.Minute)
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}
