package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/keyvault"
)

// mapsSettings are the Maps flag group: which Maps account to talk to and
// how. A command that calls Maps registers the sign-in and credential
// groups too, for signed-in calls and for reading a key from Key Vault.
type mapsSettings struct {
	Endpoint     string
	Geography    string
	ClientID     string
	Key          string // from MAPSDEVICE_MAPS_KEY; on the command line it is deprecated
	KeyFile      string
	KeyFromVault string
	KeyRefresh   time.Duration
}

func (m *mapsSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&m.Endpoint, "maps-endpoint", azmaps.DefaultEndpoint, "Azure Maps endpoint (the emulator's, or another compatible one)")
	fs.StringVar(&m.Geography, "geography", "", "us or eu: shortcut for https://{geography}.atlas.microsoft.com")
	fs.StringVar(&m.ClientID, "maps-client-id", "", "the Maps account's client id, for signed-in calls")
	fs.StringVar(&m.Key, "maps-key", "", "a shared key of the Maps account, instead of a token; set it in the environment, not on the command line, where others can see it")
	fs.StringVar(&m.KeyFile, "maps-key-file", "", "file holding a shared key of the Maps account, instead of a token")
	fs.StringVar(&m.KeyFromVault, "maps-key-from-vault", "", "Key Vault secret holding a shared key, https://NAME.vault.azure.net/secrets/NAME[/VERSION], read with --credential")
	fs.DurationVar(&m.KeyRefresh, "maps-key-refresh", 24*time.Hour, "how often a key from a file or Key Vault is read again (jittered); a 401 reads it at once")
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

// check says what is wrong with the group before anything starts.
func (m mapsSettings) check() error {
	n := 0
	for _, v := range []string{m.Key, m.KeyFile, m.KeyFromVault} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return usageError{errors.New("use one of MAPSDEVICE_MAPS_KEY (or --maps-key), --maps-key-file and --maps-key-from-vault")}
	}
	return positive("maps-key-refresh", m.KeyRefresh)
}

// client builds the Maps client: a shared key when one is set, else the
// tokens of the credential s configures.
func (m mapsSettings) client(ctx context.Context, stdio Stdio, s settings, progress func(azmaps.Progress)) (*azmaps.Client, error) {
	endpoint, err := m.endpoint()
	if err != nil {
		return nil, err
	}
	if err := firstError(m.check(), s.Cred.check()); err != nil {
		return nil, err
	}
	cfg := azmaps.Config{Endpoint: endpoint, ClientID: m.ClientID, Progress: progress}
	switch {
	case m.KeyFromVault != "":
		keys, err := m.vaultKey(ctx, stdio, s)
		if err != nil {
			return nil, err
		}
		cfg.Keys = keys
	case m.KeyFile != "":
		keys, err := newFileKey(ctx, m.KeyFile, m.KeyRefresh, stdio)
		if err != nil {
			return nil, err
		}
		cfg.Keys = keys
	case m.Key != "":
		stdio.secrets.add(m.Key)
		cfg.Key = m.Key
	default:
		if m.ClientID == "" {
			return nil, azmaps.ErrNoMapsClientID
		}
		cred, _, err := s.credential(ctx, stdio)
		if err != nil {
			return nil, err
		}
		cfg.Tokens = mapsTokens{cred}
	}
	return newMapsClient(cfg, s.CAFile)
}

// vaultKey reads the key from Key Vault now, so that a refusal is said
// before anything else happens.
func (m mapsSettings) vaultKey(ctx context.Context, stdio Stdio, s settings) (*vaultKey, error) {
	secret, err := keyvault.ParseSecretURL(m.KeyFromVault)
	if err != nil {
		return nil, usageError{fmt.Errorf("--maps-key-from-vault: %w", err)}
	}
	cred, _, err := s.credential(ctx, stdio)
	if err != nil {
		return nil, err
	}
	tr, err := newTransport(s.CAFile)
	if err != nil {
		return nil, err
	}
	k := &vaultKey{
		// A vault that never answers must not hold up every Maps request
		// waiting behind the key: each read is bounded by --timeout.
		vault:   &keyvault.Client{HTTP: &http.Client{Transport: tr, Timeout: s.Cred.Timeout}, Tokens: vaultTokens{cred}},
		secret:  secret,
		refresh: m.KeyRefresh,
		seen:    stdio.secrets.add,
	}
	if _, err := k.Key(ctx, ""); err != nil {
		return nil, err
	}
	return k, nil
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
