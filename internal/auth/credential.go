package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/sync/singleflight"
)

// The kinds of credential, as --credential names them.
const (
	CredentialDeviceCode        = "device-code"
	CredentialClientSecret      = "client-secret"
	CredentialClientCertificate = "client-certificate"
	CredentialWorkloadIdentity  = "workload-identity"
	CredentialManagedIdentity   = "managed-identity"
)

// Resources tokens are asked for.
const (
	MapsResource  = "https://atlas.microsoft.com"
	VaultResource = "https://vault.azure.net"
)

// Credential gets access tokens for one identity: a signed-in person or
// an app. Every kind keeps its tokens in memory for the life of the
// process; only device code keeps a refresh token beyond it.
type Credential interface {
	// AccessToken returns a token for resource ("" means Azure Maps).
	// With fresh it is never a cached one, as after a 401.
	AccessToken(ctx context.Context, resource string, fresh bool) (Result, error)
	// Identity says who the credential is, never with a secret.
	Identity() Identity
}

// Identity describes a credential for status: what was configured, not
// what a token says (see Result.Claims).
type Identity struct {
	Kind      string
	Authority string // empty for managed identity
	ClientID  string // the app; for managed identity the selected client id, if any
	// ManagedIdentity is the selection (system, client-id=…, object-id=…,
	// resource-id=…) and ManagedIdentitySource where its tokens come
	// from (App Service, Azure Arc, IMDS…).
	ManagedIdentity       string
	ManagedIdentitySource string
}

// Claims are what an access token says about whose it is. They are read
// without checking the signature, for showing only.
type Claims struct {
	AppID    string `json:"appid"`
	ObjectID string `json:"oid"`
	TenantID string `json:"tid"`
	IDType   string `json:"idtyp"` // "app" for app tokens
	Audience string `json:"aud"`
}

// ReadClaims decodes the payload of a JWT access token.
func ReadClaims(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("decode the access token: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, fmt.Errorf("decode the access token: %w", err)
	}
	return c, nil
}

// tenantOf is the tenant segment of an authority URL.
func tenantOf(authority string) string {
	u, err := url.Parse(authority)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	return segs[len(segs)-1]
}

// resourceOf fills in the default resource.
func resourceOf(resource string) string {
	if resource == "" {
		return MapsResource
	}
	return strings.TrimRight(resource, "/")
}

var _ Credential = (*Client)(nil)

// AccessToken gets a token for the signed-in person without asking
// anyone. Resources other than Maps are asked for with their delegated
// user_impersonation permission.
func (c *Client) AccessToken(ctx context.Context, resource string, fresh bool) (Result, error) {
	scopes := c.scopes
	if resource != "" && resourceOf(resource) != MapsResource {
		scopes = []string{resourceOf(resource) + "/user_impersonation"}
	}
	claims := ""
	if fresh {
		claims = freshClaimsNow()
	}
	return c.silent(ctx, scopes, claims)
}

// Identity says which app the person signed in to.
func (c *Client) Identity() Identity {
	return Identity{Kind: CredentialDeviceCode, Authority: c.authority, ClientID: c.clientID}
}

// shared makes one request for all concurrent callers of key. It runs on a
// context of its own, bounded by acquire's timeout, so that one caller
// giving up does not fail the others; each caller waits only as long as
// its own context allows.
func shared(ctx context.Context, g *singleflight.Group, key string, acquire func(context.Context) (Result, error)) (Result, error) {
	ch := g.DoChan(key, func() (any, error) { return acquire(context.WithoutCancel(ctx)) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return Result{}, r.Err
		}
		return r.Val.(Result), nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}
