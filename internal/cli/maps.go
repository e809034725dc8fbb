package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// mapsSettings are the Maps flag group: which Maps account to talk to and
// how. A command that calls Maps registers the sign-in group too, for
// signed-in calls.
type mapsSettings struct {
	Endpoint  string
	Geography string
	ClientID  string
	Key       string
}

func (m *mapsSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&m.Endpoint, "maps-endpoint", azmaps.DefaultEndpoint, "Azure Maps endpoint (the emulator's, or another compatible one)")
	fs.StringVar(&m.Geography, "geography", "", "us or eu: shortcut for https://{geography}.atlas.microsoft.com")
	fs.StringVar(&m.ClientID, "maps-client-id", "", "the Maps account's client id, for signed-in calls")
	fs.StringVar(&m.Key, "maps-key", "", "a shared key of the Maps account, instead of signing in")
}

func (m mapsSettings) endpoint() (string, error) {
	switch m.Geography {
	case "":
		return m.Endpoint, nil
	case "us", "eu":
		return "https://" + m.Geography + ".atlas.microsoft.com", nil
	}
	return "", usageError{fmt.Errorf("--geography %q: use us or eu", m.Geography)}
}

// client builds the Maps client: a shared key when set, else the tokens
// of the account s signs in.
func (m mapsSettings) client(ctx context.Context, stdio Stdio, s settings, progress func(azmaps.Progress)) (*azmaps.Client, error) {
	endpoint, err := m.endpoint()
	if err != nil {
		return nil, err
	}
	cfg := azmaps.Config{Endpoint: endpoint, ClientID: m.ClientID, Key: m.Key, Progress: progress}
	if m.Key == "" {
		if m.ClientID == "" {
			return nil, azmaps.ErrNoMapsClientID
		}
		si, err := s.open(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprint(stdio.Err, si.fallbackNote())
		cfg.Tokens = mapsTokens{si.client}
	}
	return newMapsClient(cfg, s.CAFile)
}

// newMapsClient adds the transport that trusts the extra CA file.
func newMapsClient(cfg azmaps.Config, caFile string) (*azmaps.Client, error) {
	tr, err := newTransport(caFile)
	if err != nil {
		return nil, err
	}
	cfg.HTTPClient = &http.Client{Transport: tr}
	c, err := azmaps.NewClient(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// mapsTokens hands the signed-in account's tokens to the Maps client.
type mapsTokens struct{ c *auth.Client }

func (t mapsTokens) Token(ctx context.Context, refresh bool) (string, error) {
	get := t.c.Token
	if refresh {
		get = t.c.Fresh
	}
	res, err := get(ctx)
	return res.AccessToken, err
}
