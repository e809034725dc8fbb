// Package auth gets Microsoft Entra ID tokens for Azure Maps (and Key
// Vault), one Credential per way of signing in, each in its own file:
//   - device code (client.go, devicecode.go, silent.go): a person signs in
//     once on another device; MSAL's public client keeps the refresh token
//     in a Store and gets tokens silently afterwards;
//   - client secret, certificate and workload identity (app.go, secret.go,
//     certificate.go, workload.go): the app signs in as itself through
//     MSAL's confidential client;
//   - managed identity (managed.go): Azure or an Azure Arc agent gives the
//     machine its tokens, through MSAL's managed identity client.
//
// App and managed identity tokens live in memory only, one MSAL client per
// credential, with concurrent requests for one token made once. Failures
// are *Error, sorted by the AADSTS number Entra ID sends.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// MapsScope is the delegated Azure Maps permission, "Access Azure Maps".
const MapsScope = "https://atlas.microsoft.com/user_impersonation"

// DefaultAuthorityHost is Entra ID's public cloud.
const DefaultAuthorityHost = "https://login.microsoftonline.com"

// DefaultTenant lets any work or school account sign in.
const DefaultTenant = "organizations"

// Store keeps the token cache between runs (see package tokenstore).
type Store interface {
	cache.ExportReplace
	// Lock serialises whole token operations across processes.
	Lock(ctx context.Context) (unlock func(), err error)
	Clear(ctx context.Context) error
}

// Config says which app signs in where.
type Config struct {
	// Authority is the full authority URL; it wins over Tenant.
	Authority string
	// Tenant is a tenant id or domain, or organizations (the default).
	Tenant   string
	ClientID string
	// Scopes default to MapsScope.
	Scopes []string
	// Transport carries every request to the identity service; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	Store     Store
}

// ResolveAuthority returns the authority URL a Config means.
func (c Config) ResolveAuthority() (string, error) {
	a := c.Authority
	if a == "" {
		t := c.Tenant
		if t == "" {
			t = DefaultTenant
		}
		a = DefaultAuthorityHost + "/" + t
	}
	u, err := url.Parse(a)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("authority %q is not a URL like https://login.microsoftonline.com/TENANT", a)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("authority %q must use https", a)
	}
	if strings.Trim(u.Path, "/") == "" {
		return "", fmt.Errorf("authority %q names no tenant: add /TENANT", a)
	}
	return strings.TrimRight(a, "/"), nil
}

// Client signs in and gets tokens.
type Client struct {
	app       public.Client
	store     Store
	scopes    []string
	pacer     *pacer
	authority string
	clientID  string
}

// New makes a client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, ErrNoClientID
	}
	authority, err := cfg.ResolveAuthority()
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("no token store")
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{MapsScope}
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	p := newPacer(tr)
	app, err := public.New(cfg.ClientID,
		public.WithAuthority(authority),
		public.WithCache(cfg.Store),
		public.WithHTTPClient(&http.Client{Transport: p}),
		// Discovery would call login.microsoftonline.com for any other host;
		// off, it costs nothing against Entra ID itself.
		public.WithInstanceDiscovery(false),
	)
	if err != nil {
		return nil, fmt.Errorf("set up MSAL: %w", err)
	}
	return &Client{app: app, store: cfg.Store, scopes: scopes, pacer: p, authority: authority, clientID: cfg.ClientID}, nil
}

// Authority is the authority URL in use.
func (c *Client) Authority() string { return c.authority }

// Account is who is signed in.
type Account struct {
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
	TenantID string `json:"tenant_id"`
}

func accountOf(a public.Account) Account {
	return Account{Username: a.PreferredUsername, Name: a.Name, TenantID: a.Realm}
}

// Result is an access token and whose it is.
type Result struct {
	AccessToken string
	ExpiresOn   time.Time
	Account     Account
	// FromCache is true when no request was made.
	FromCache bool
	// Claims are what the token says about whose it is.
	Claims Claims
}

func resultOf(ar public.AuthResult) Result {
	acct := accountOf(ar.Account)
	if acct.Name == "" {
		// MSAL leaves Account.Name empty; the ID token has it.
		acct.Name = ar.IDToken.Name
	}
	claims, _ := ReadClaims(ar.AccessToken)
	return Result{
		AccessToken: ar.AccessToken,
		ExpiresOn:   ar.ExpiresOn,
		Account:     acct,
		FromCache:   ar.Metadata.TokenSource == public.TokenSourceCache,
		Claims:      claims,
	}
}
