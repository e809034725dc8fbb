package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// mapsSettings say which Maps account to talk to and how.
type mapsSettings struct {
	settings
	Endpoint  string
	Geography string
	ClientID  string
	Key       string
	JSON      bool
}

func (m *mapsSettings) registerMaps(fs *flag.FlagSet) {
	m.register(fs)
	fs.StringVar(&m.Endpoint, "maps-endpoint", azmaps.DefaultEndpoint, "Azure Maps endpoint (the emulator's, or another compatible one)")
	fs.StringVar(&m.Geography, "geography", "", "us or eu: shortcut for https://{geography}.atlas.microsoft.com")
	fs.StringVar(&m.ClientID, "maps-client-id", "", "the Maps account's client id, for signed-in calls")
	fs.StringVar(&m.Key, "maps-key", "", "a shared key of the Maps account, instead of signing in")
	fs.BoolVar(&m.JSON, "json", false, "machine-readable output on stdout")
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

// mapsClient builds the Maps client: a shared key when set, else the
// signed-in account's tokens.
func (m mapsSettings) mapsClient(ctx context.Context, stdio Stdio, progress func(azmaps.Progress)) (*azmaps.Client, error) {
	endpoint, err := m.endpoint()
	if err != nil {
		return nil, err
	}
	cfg := azmaps.Config{Endpoint: endpoint, ClientID: m.ClientID, Key: m.Key, Progress: progress}
	if m.Key == "" {
		if m.ClientID == "" {
			return nil, azmaps.ErrNoMapsClientID
		}
		si, err := m.open(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprint(stdio.Err, si.fallbackNote())
		cfg.Tokens = mapsTokens{si.client}
	}
	return newMapsClient(cfg, m.CAFile)
}

// newMapsClient adds the transport that trusts the extra CA file.
func newMapsClient(cfg azmaps.Config, caFile string) (*azmaps.Client, error) {
	tr, err := azmaps.NewTransport(caFile)
	if err != nil {
		return nil, usageError{err}
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

// interspersed parses flags that come after positional arguments, as in
// 'mapsdevice api PATH --query k=v'. Flags win over the environment
// either way.
func interspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if !strings.HasPrefix(args[0], "-") || args[0] == "-" {
			pos = append(pos, args[0])
			args = args[1:]
			continue
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		args = fs.Args()
	}
	return pos, nil
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
