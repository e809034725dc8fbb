package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"golang.org/x/sync/singleflight"
)

// DefaultTimeout bounds one token acquisition of an app credential.
const DefaultTimeout = 30 * time.Second

// AppConfig is what every app credential needs: the app, its tenant and
// how to reach the identity service.
type AppConfig struct {
	// Authority is the full authority URL; it wins over Tenant, which
	// here must name one tenant.
	Authority string
	Tenant    string
	ClientID  string
	// Transport carries every request to the identity service; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each token acquisition (default DefaultTimeout).
	Timeout time.Duration
	// BuiltAt is when this program was built; a clock that reads earlier
	// is wrong, and assertions wait for it to be set.
	BuiltAt time.Time
	// Warn hears what does not stop anything but should be said: a file
	// others can read (*ReadableError), ErrSecretLooksLikeID, or a wait
	// for the clock (*ClockError), once per wait.
	Warn func(error)
}

// App is a confidential client signing in as the app itself, with a
// secret, a certificate or a federated token. Its tokens live in the
// MSAL client's memory only: there is no refresh token to keep.
type App struct {
	kind      string
	authority string
	clientID  string
	timeout   time.Duration
	http      *http.Client
	clock     *clock
	secret    *secretReader // client-secret only
	assert    func(context.Context, confidential.AssertionRequestOptions) (string, error)
	group     singleflight.Group

	mu     sync.Mutex
	client *confidential.Client
}

var _ Credential = (*App)(nil)

// NewClientSecret is an app signing in with a client secret. A secret
// from a file is read now, to say at once what is wrong with it.
func NewClientSecret(cfg AppConfig, src SecretSource) (*App, error) {
	a, err := newApp(CredentialClientSecret, cfg)
	if err != nil {
		return nil, err
	}
	if a.secret, err = newSecretReader(src, cfg.Warn); err != nil {
		return nil, err
	}
	return a, nil
}

// NewClientCertificate is an app signing in with a certificate.
func NewClientCertificate(cfg AppConfig, src CertificateSource) (*App, error) {
	a, err := newApp(CredentialClientCertificate, cfg)
	if err != nil {
		return nil, err
	}
	ca, err := newCertAssertion(src, a.clock, cfg.Warn)
	if err != nil {
		return nil, err
	}
	a.assert = ca.assertion
	return a, nil
}

// NewWorkloadIdentity is an app signing in with a token from an identity
// provider its app registration trusts (a federated credential), read
// from tokenFile for every request.
func NewWorkloadIdentity(cfg AppConfig, tokenFile string) (*App, error) {
	a, err := newApp(CredentialWorkloadIdentity, cfg)
	if err != nil {
		return nil, err
	}
	if tokenFile == "" {
		return nil, credentialError("the federated token file", errors.New("no file is set"))
	}
	if _, err := stampOf(tokenFile); err != nil {
		return nil, credentialError("the federated token file", err)
	}
	a.assert = federatedToken{path: tokenFile}.assertion
	return a, nil
}

func newApp(kind string, cfg AppConfig) (*App, error) {
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, ErrNoClientID
	}
	authority, err := appAuthority(cfg)
	if err != nil {
		return nil, err
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	clk := newClock(cfg.BuiltAt, cfg.Warn)
	return &App{
		kind:      kind,
		authority: authority,
		clientID:  cfg.ClientID,
		timeout:   timeout,
		http:      &http.Client{Transport: dateRecorder{next: tr, clock: clk}},
		clock:     clk,
	}, nil
}

// appAuthority refuses the multi-tenant names before any request: a
// client credentials grant needs the tenant the app's service principal
// lives in, and Entra ID refuses /common and /organizations for it.
func appAuthority(cfg AppConfig) (string, error) {
	authority, err := Config{Authority: cfg.Authority, Tenant: cfg.Tenant}.ResolveAuthority()
	if err != nil {
		return "", err
	}
	switch t := strings.ToLower(tenantOf(authority)); t {
	case "common", "organizations", "consumers":
		return "", &Error{Kind: KindTenantRequired, Reason: fmt.Sprintf(
			"app credentials need the tenant the app lives in; %q names no single tenant", t)}
	}
	return authority, nil
}

// msal is the MSAL client, made again when the secret file changed.
func (a *App) msal() (*confidential.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var cred confidential.Credential
	switch {
	case a.secret != nil:
		_, changed, err := a.secret.current()
		if err != nil {
			return nil, err
		}
		if a.client != nil && !changed {
			return a.client, nil
		}
		if cred, err = a.secret.credential(); err != nil {
			return nil, credentialError("the client secret", err)
		}
	case a.client != nil:
		return a.client, nil
	default:
		cred = confidential.NewCredFromAssertionCallback(a.assert)
	}
	c, err := confidential.New(a.authority, a.clientID, cred,
		confidential.WithHTTPClient(a.http),
		// Discovery would call login.microsoftonline.com for any other
		// host; off, it costs nothing against Entra ID itself.
		confidential.WithInstanceDiscovery(false),
		// MSAL_FORCE_REGION in the environment would send requests to a
		// regional host nobody configured here.
		confidential.WithAzureRegion("DisableMsalForceRegion"),
	)
	if err != nil {
		return nil, fmt.Errorf("set up MSAL: %w", err)
	}
	a.client = &c
	return a.client, nil
}

// AccessToken returns the app's token for resource: from memory while it
// has more than 5 minutes left, else a new one. Concurrent requests for
// the same token make one request.
func (a *App) AccessToken(ctx context.Context, resource string, fresh bool) (Result, error) {
	resource = resourceOf(resource)
	key := resource
	if fresh {
		key += " fresh"
	}
	return shared(ctx, &a.group, key, func(ctx context.Context) (Result, error) { return a.acquire(ctx, resource, fresh) })
}

func (a *App) acquire(ctx context.Context, resource string, fresh bool) (Result, error) {
	c, err := a.msal()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var opts []confidential.AcquireByCredentialOption
	if fresh {
		opts = append(opts, confidential.WithClaims(freshClaimsNow()))
	}
	ar, err := c.AcquireTokenByCredential(ctx, []string{resource + "/.default"}, opts...)
	if err != nil {
		return Result{}, classify(err)
	}
	claims, _ := ReadClaims(ar.AccessToken)
	return Result{
		AccessToken: ar.AccessToken,
		ExpiresOn:   ar.ExpiresOn,
		FromCache:   ar.Metadata.TokenSource == confidential.TokenSourceCache,
		Claims:      claims,
	}, nil
}

// Identity says which app signs in where.
func (a *App) Identity() Identity {
	return Identity{Kind: a.kind, Authority: a.authority, ClientID: a.clientID}
}
