// Package keyvault reads one secret from Azure Key Vault: a GET without a
// token, whose 401 challenge names the resource to ask a token for, then
// the same GET with it. The challenge's resource must be a parent domain
// of the vault's host (loopback hosts, such as the emulator, excepted),
// so that a host posing as a vault cannot collect tokens for another
// resource. It is our own few lines rather than the Azure SDK's azsecrets,
// which would add over half a megabyte to the binary for one GET.
package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// APIVersion is the Key Vault API version asked for.
const APIVersion = "7.6"

// TokenSource gives bearer tokens for a resource such as
// https://vault.azure.net.
type TokenSource interface {
	Token(ctx context.Context, resource string) (string, error)
}

// Client reads secrets.
type Client struct {
	HTTP   *http.Client // nil means http.DefaultClient
	Tokens TokenSource
}

// SecretURL is a secret's address: https://NAME.vault.azure.net/secrets/NAME[/VERSION].
type SecretURL struct {
	Vault   *url.URL // the vault, up to /secrets/
	Name    string
	Version string // empty for the current version
}

func (s SecretURL) String() string {
	u := s.Vault.JoinPath("secrets", s.Name, s.Version)
	return u.String()
}

// ParseSecretURL reads a secret's address. It is split at the last
// /secrets/, so vaults served under a path work too.
func ParseSecretURL(raw string) (SecretURL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return SecretURL{}, fmt.Errorf("%q is not a secret URL like https://NAME.vault.azure.net/secrets/NAME", raw)
	}
	i := strings.LastIndex(u.Path, "/secrets/")
	if i < 0 {
		return SecretURL{}, fmt.Errorf("%q names no secret: it has no /secrets/NAME", raw)
	}
	rest := strings.Split(strings.Trim(u.Path[i+len("/secrets/"):], "/"), "/")
	if rest[0] == "" || len(rest) > 2 {
		return SecretURL{}, fmt.Errorf("%q is not /secrets/NAME or /secrets/NAME/VERSION", raw)
	}
	vault := *u
	vault.Path = u.Path[:i]
	s := SecretURL{Vault: &vault, Name: rest[0]}
	if len(rest) == 2 {
		s.Version = rest[1]
	}
	return s, nil
}

// Secret is a secret's value. It is never printed.
type Secret struct {
	Value string
	// ID is the secret's address with its version.
	ID string
}

// Error is Key Vault's refusal.
type Error struct {
	Status int
	Code   string // Forbidden, SecretNotFound, …
	Inner  string // innererror.code: ForbiddenByRbac, AccessDenied, …
	// Message is Key Vault's own, which names the caller (appid, oid).
	Message string
	Secret  string // the secret's address
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("Key Vault answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Inner != "" {
		msg += " (" + e.Inner + ")"
	}
	msg += " for " + e.Secret
	if e.Message != "" {
		msg += ": " + strings.Join(strings.Fields(e.Message), " ")
	}
	return msg
}

// ErrChallenge means the vault's challenge cannot be trusted or read.
var ErrChallenge = errors.New("the vault's authentication challenge")

// Get reads a secret.
func (c *Client) Get(ctx context.Context, s SecretURL) (Secret, error) {
	u := s.Vault.JoinPath("secrets", s.Name, s.Version)
	u.RawQuery = url.Values{"api-version": {APIVersion}}.Encode()

	resp, err := c.send(ctx, u, "")
	if err != nil {
		return Secret{}, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		resp.Body.Close()
		return Secret{}, fmt.Errorf("%w: %s answered %d without a token, not 401 with a challenge", ErrChallenge, s.Vault.Host, resp.StatusCode)
	}
	drain(resp)
	resource, err := challengeResource(resp.Header.Get("WWW-Authenticate"), u)
	if err != nil {
		return Secret{}, err
	}
	tok, err := c.Tokens.Token(ctx, resource)
	if err != nil {
		return Secret{}, err
	}
	resp, err = c.send(ctx, u, tok)
	if err != nil {
		return Secret{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Secret{}, fmt.Errorf("read Key Vault's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Secret{}, refusal(resp.StatusCode, body, s)
	}
	var got struct {
		Value *string `json:"value"`
		ID    string  `json:"id"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Value == nil {
		return Secret{}, fmt.Errorf("Key Vault's answer for %s holds no secret value", s)
	}
	return Secret{Value: *got.Value, ID: got.ID}, nil
}

func (c *Client) send(ctx context.Context, u *url.URL, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	// The token goes to the vault's host only.
	checked := *hc
	checked.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		return fmt.Errorf("the vault redirected to %s; nothing is followed", r.URL.Host)
	}
	resp, err := checked.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach Key Vault: %w", err)
	}
	return resp, nil
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// challengeResource reads the resource of a Bearer challenge (scope wins
// over resource, as in the Azure SDK) and checks it belongs to the vault.
func challengeResource(header string, vault *url.URL) (string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(header), "Bearer ")
	if !ok {
		return "", fmt.Errorf("%w is not a Bearer challenge: %q", ErrChallenge, header)
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			params[strings.ToLower(k)] = strings.Trim(v, `"`)
		}
	}
	resource := params["resource"]
	if scope := params["scope"]; scope != "" {
		resource = strings.TrimSuffix(scope, "/.default")
	}
	r, err := url.Parse(resource)
	if resource == "" || err != nil || r.Scheme != "https" || r.Host == "" {
		return "", fmt.Errorf("%w names no https resource: %q", ErrChallenge, header)
	}
	host := strings.ToLower(vault.Hostname())
	if !isLoopback(host) && !strings.HasSuffix(host, "."+strings.ToLower(r.Hostname())) {
		return "", fmt.Errorf("%w names resource %s, which is not a parent domain of the vault host %s", ErrChallenge, resource, host)
	}
	return strings.TrimRight(resource, "/"), nil
}

// isLoopback is true for the emulator's hosts.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// refusal reads Key Vault's error body.
func refusal(status int, body []byte, s SecretURL) error {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return &Error{Status: status, Code: e.Error.Code, Inner: e.Error.InnerError.Code, Message: e.Error.Message, Secret: s.String()}
}
