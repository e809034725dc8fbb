package azmaps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/backoff"
)

// DefaultEndpoint is the United States Maps endpoint.
const DefaultEndpoint = "https://us.atlas.microsoft.com"

// API versions.
const (
	DataAPIVersion    = "2.0"
	SpatialAPIVersion = "2022-08-01"
)

// TokenSource gives bearer tokens for Azure Maps. With refresh it must not
// return a cached token.
type TokenSource interface {
	Token(ctx context.Context, refresh bool) (string, error)
}

// KeySource gives the shared key, as when it is kept in Key Vault.
// refused is the key Maps has just refused (it was rotated), or empty. A
// source fetches the key again while it still holds the refused one, and
// otherwise gives the one it has: when many requests in flight meet the
// rotation at once, the key is read once.
type KeySource interface {
	Key(ctx context.Context, refused string) (string, error)
}

// Config says where and how to reach Azure Maps.
type Config struct {
	// Endpoint is the base URL, such as DefaultEndpoint.
	Endpoint string
	// ClientID is the Maps account's client id, sent as x-ms-client-id
	// with bearer tokens from Tokens.
	ClientID string
	Tokens   TokenSource
	// Key is a shared key; it replaces bearer auth. It travels in the
	// query string, so no error or log line here ever holds a URL.
	Key string
	// Keys, instead of Key, gives a shared key that may be rotated: a 401
	// for an invalid key asks it for the key again, once.
	Keys       KeySource
	HTTPClient *http.Client
	// Retries is how many times a failed request is tried again (default 4).
	Retries int
	// Backoff is the first retry delay, doubled each time up to 30 s
	// (default 500 ms), with full jitter.
	Backoff time.Duration
	// Progress, if set, hears about uploads and long-running operations.
	Progress func(Progress)
}

// Progress is a step of an upload or of waiting for an operation.
type Progress struct {
	Stage      string // "upload" or "operation"
	Sent, Size int64
	Status     string
}

// Client calls the Data v2 and Spatial geofence APIs.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
}

// ErrForeignHost refuses to follow a server to another host, which would
// hand it the token or key.
var ErrForeignHost = errors.New("the Maps service pointed at another host; credentials are only sent to the configured endpoint")

// NewClient checks the configuration.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return nil, fmt.Errorf("Maps endpoint %q must be an https URL like %s", cfg.Endpoint, DefaultEndpoint)
	}
	if !cfg.keyed() {
		if cfg.Tokens == nil {
			return nil, errors.New("no credentials: sign in, or set a shared key")
		}
		if cfg.ClientID == "" {
			return nil, ErrNoMapsClientID
		}
	}
	if cfg.Retries == 0 {
		cfg.Retries = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	// Never follow a redirect with our credentials to anywhere else.
	checked := *hc
	checked.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !sameHost(req.URL, u) {
			return ErrForeignHost
		}
		return nil
	}
	return &Client{cfg: cfg, base: u, http: &checked}, nil
}

func (cfg Config) keyed() bool { return cfg.Key != "" || cfg.Keys != nil }

// ErrNoMapsClientID means bearer auth lacks the Maps account's client id.
var ErrNoMapsClientID = errors.New("no Maps client id is set")

func sameHost(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// Endpoint is the configured base URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Body is a request body that can be opened again for a retry.
type Body struct {
	Open func() (io.ReadCloser, error)
	Size int64 // -1 if unknown
}

// BytesBody is a Body held in memory.
func BytesBody(b []byte) Body {
	return Body{Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }, Size: int64(len(b))}
}

// request is one API call.
type request struct {
	method string
	url    *url.URL
	body   *Body
	// idempotent requests are retried on any failure; others only when
	// the server cannot have acted on them.
	idempotent  bool
	contentType string
	header      http.Header // more headers; the auth headers win over them
}

func (c *Client) endpointURL(p string, q url.Values) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + p
	u.RawQuery = q.Encode()
	return &u
}

// do sends a request with auth and retries, and returns a 2xx response
// or an *APIError.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	if !sameHost(r.url, c.base) {
		return nil, ErrForeignHost
	}
	refreshed, refresh := false, false
	var key, refused string // the shared key sent, and the one Maps refused
	for attempt := 0; ; attempt++ {
		resp, sent, err := c.send(ctx, r, refresh, refused)
		refresh, refused, key = false, "", sent
		var te *transportError
		if errors.As(err, &te) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if attempt < c.cfg.Retries && (r.idempotent || neverSent(te.err)) && !errors.Is(te.err, ErrForeignHost) {
				if werr := c.wait(ctx, attempt, ""); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, &NetworkError{Err: te.err}
		}
		if err != nil {
			return nil, err // no token, or no body: trying again cannot help
		}
		if resp.StatusCode < 300 {
			return resp, nil
		}
		apiErr := readAPIError(resp, c.base)
		apiErr.Keyed = c.cfg.keyed()
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !c.cfg.keyed() && !refreshed && apiErr.AuthError == "invalid_token":
			// The token may have expired early or been revoked: get a new
			// one and try once more.
			refreshed, refresh = true, true
			continue
		case resp.StatusCode == http.StatusUnauthorized && c.cfg.Keys != nil && !refreshed:
			// The key may have been rotated: fetch it again and try once
			// more.
			refreshed, refused = true, key
			continue
		case retryable(resp.StatusCode, r.idempotent) && attempt < c.cfg.Retries:
			if werr := c.wait(ctx, attempt, resp.Header.Get("Retry-After")); werr != nil {
				return nil, werr
			}
			continue
		}
		return nil, apiErr
	}
}

// send makes one attempt, and says which shared key it sent, if any. Only
// a failure of the transport comes back as a *transportError, which is
// worth another try.
func (c *Client) send(ctx context.Context, r request, refresh bool, refused string) (*http.Response, string, error) {
	u := *r.url
	var key string
	if c.cfg.keyed() {
		key = c.cfg.Key
		if c.cfg.Keys != nil {
			k, err := c.cfg.Keys.Key(ctx, refused)
			if err != nil {
				return nil, "", &KeyError{Err: err}
			}
			key = k
		}
		q := u.Query()
		q.Set("subscription-key", key)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), nil)
	if err != nil {
		return nil, key, fmt.Errorf("build request: %s", Redact(err.Error()))
	}
	req.Header.Set("Accept", "application/json")
	for k, vs := range r.header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if !c.cfg.keyed() {
		tok, err := c.cfg.Tokens.Token(ctx, refresh)
		if err != nil {
			return nil, key, &TokenError{Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("x-ms-client-id", c.cfg.ClientID)
	}
	if r.body != nil {
		b, err := r.body.Open()
		if err != nil {
			return nil, key, fmt.Errorf("open request body: %w", err)
		}
		req.Body, req.ContentLength = c.counting(b, r.body.Size), r.body.Size
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", ct)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Hide the URL: with a shared key it holds the key.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, key, &transportError{err: err}
	}
	return resp, key, nil
}

// transportError is a request that failed on its way: no answer came.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// TokenError means no token could be had; its Err comes from auth.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "get an access token: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// KeyError means the shared key could not be had; its Err comes from
// where the key is kept.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return "get the Maps shared key: " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// subscriptionKey finds a shared key in a URL or its query string.
var subscriptionKey = regexp.MustCompile(`(?i)(subscription-key=)[^&\s"'#\\]*`)

// Redact hides the value of every subscription-key in s, as in a URL in
// an error or a log line.
func Redact(s string) string {
	return subscriptionKey.ReplaceAllString(s, "${1}REDACTED")
}

// NetworkError means the Maps endpoint could not be reached.
type NetworkError struct{ Err error }

func (e *NetworkError) Error() string { return "reach the Maps endpoint: " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// neverSent is true for failures before a request left, such as a refused
// connection, which are safe to retry even for an upload.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryable says which statuses are worth another try. 429 and 503 mean
// the server did not act, so even an upload may be sent again.
func retryable(status int, idempotent bool) bool {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return true
	case status >= 500:
		return idempotent
	}
	return false
}

// wait sleeps before retry n: Retry-After when given, else exponential
// backoff with full jitter.
func (c *Client) wait(ctx context.Context, n int, retryAfter string) error {
	d, ok := backoff.RetryAfter(retryAfter, time.Now())
	if !ok {
		d = backoff.Policy{Base: c.cfg.Backoff, Max: 30 * time.Second}.Delay(n)
	}
	return backoff.Sleep(ctx, min(d, 5*time.Minute))
}

// counting reports upload progress as the body is read.
func (c *Client) counting(rc io.ReadCloser, size int64) io.ReadCloser {
	if c.cfg.Progress == nil {
		return rc
	}
	return &progressReader{ReadCloser: rc, size: size, report: c.cfg.Progress}
}

type progressReader struct {
	io.ReadCloser
	size, sent int64
	last       atomic.Int64
	report     func(Progress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	p.sent += int64(n)
	if now := time.Now().UnixMilli(); now-p.last.Load() >= 200 || err == io.EOF {
		p.last.Store(now)
		p.report(Progress{Stage: "upload", Sent: p.sent, Size: p.size})
	}
	return n, err
}

// APIError is an error answer from Azure Maps.
type APIError struct {
	Status  int
	Code    string
	Message string
	// AuthError is the error of WWW-Authenticate, such as invalid_token.
	AuthError string
	// Retired is set when the real Azure Maps answered a path of a
	// service Microsoft has retired.
	Retired bool
	// Keyed is set when the request carried a shared key, not a token.
	Keyed   bool
	Details []ErrorDetail
}

// ErrorDetail is one entry of error.details.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

func (e *APIError) Error() string {
	// The Data service's codes repeat the status ("400 BadRequest").
	msg := fmt.Sprintf("Azure Maps answered %d", e.Status)
	if code := strings.TrimPrefix(e.Code, strconv.Itoa(e.Status)+" "); code != "" {
		msg += " " + code
	}
	if e.Message != "" {
		msg += ": " + strings.TrimRight(e.Message, ". ")
	}
	return msg
}

var authErrorPattern = strings.NewReplacer(`"`, "")

func readAPIError(resp *http.Response, base *url.URL) *APIError {
	defer resp.Body.Close()
	e := &APIError{Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code    string        `json:"code"`
			Message string        `json:"message"`
			Details []ErrorDetail `json:"details"`
		} `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message, e.Details = body.Error.Code, body.Error.Message, body.Error.Details
	}
	if h := resp.Header.Get("WWW-Authenticate"); h != "" {
		for _, part := range strings.Split(h, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "error="); ok {
				e.AuthError = authErrorPattern.Replace(v)
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), `Bearer error=`); ok {
				e.AuthError = authErrorPattern.Replace(v)
			}
		}
	}
	host := strings.ToLower(base.Hostname())
	p := resp.Request.URL.Path
	if (host == "atlas.microsoft.com" || strings.HasSuffix(host, ".atlas.microsoft.com")) &&
		(strings.HasPrefix(p, "/mapData") || strings.HasPrefix(p, "/spatial/") || strings.HasPrefix(p, "/dataRegistries")) &&
		(resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest && e.Code == "") {
		e.Retired = true
	}
	return e
}

// resourceUDID is the udid of either documented Resource-Location form.
func resourceUDID(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "", fmt.Errorf("Resource-Location %q is not a URL", raw)
	}
	udid := lastSegment(u.Path)
	if udid == "." || udid == "/" || udid == "metadata" || udid == "mapData" {
		return "", fmt.Errorf("Resource-Location %q names no udid", raw)
	}
	return udid, nil
}
