// Package sink delivers the reporter's sealed batches to where readings
// go: Azure Blob Storage (one block blob a batch), Azure Event Hubs (the
// REST batch send) and the user's own HTTPS API (a POST with an
// Idempotency-Key). Each sink sends a batch once per call and says why
// not in the terms of report's contract: RejectedError for a batch the
// destination refuses as invalid, RetryAfterError for a busy one, an
// error wrapping report.ErrForbidden for refused credentials, the token
// source's own error when there is no token, and any other error for
// something that may pass. Retrying is the pipeline's job; a sink only
// asks for a fresh token once after a 401.
package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/backoff"
	"github.com/mapsdevice/mapsdevice/internal/report"
)

// The token resources of the Azure sinks.
const (
	StorageResource   = "https://storage.azure.com"
	EventHubsResource = "https://eventhubs.azure.net"
)

// TokenSource gives access tokens for a resource; with fresh, never a
// cached one. auth.Credential is one.
type TokenSource interface {
	AccessToken(ctx context.Context, resource string, fresh bool) (auth.Result, error)
}

var (
	_ report.Sink = (*Blob)(nil)
	_ report.Sink = (*EventHubs)(nil)
	_ report.Sink = (*HTTPS)(nil)
)

// maxAnswer caps how much of an answer is read: answers here are short.
const maxAnswer = 64 << 10

// answer is a response read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// conn is what every sink shares: who it asks for tokens, and how it
// reaches the destination.
type conn struct {
	http     *http.Client
	tokens   TokenSource
	resource string
	log      *slog.Logger
}

func newConn(rt http.RoundTripper, tokens TokenSource, resource string, log *slog.Logger) conn {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Redirects would carry the bearer token elsewhere: none are followed.
	hc := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return conn{http: hc, tokens: tokens, resource: resource, log: log}
}

// do sends a request with a bearer token and reads the answer; when the
// destination refuses the token (refused says so) it asks for a fresh
// one and sends once more.
func (c conn) do(ctx context.Context, method, target string, header http.Header, body []byte, refused func(answer) bool) (answer, error) {
	fresh := false
	for {
		tok, err := c.tokens.AccessToken(ctx, c.resource, fresh)
		if err != nil {
			return answer{}, fmt.Errorf("get a token for %s: %w", c.resource, err)
		}
		a, err := c.send(ctx, method, target, header, body, tok.AccessToken)
		if err != nil || fresh || !refused(a) {
			return a, err
		}
		c.log.DebugContext(ctx, "token refused, asking for a fresh one", "status", a.status)
		fresh = true
	}
}

func (c conn) send(ctx context.Context, method, target string, header http.Header, body []byte, token string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("build request: %w", err)
	}
	if body == nil {
		req.Body, req.GetBody = http.NoBody, nil
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, redact(target), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read the answer: %w", method, redact(target), err)
	}
	// Drain the rest so the connection can be used again.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// redact drops the query, which may carry a SAS token.
func redact(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "the destination"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// busy is a RetryAfterError waiting as the answer's Retry-After says, or
// def without one.
func busy(a answer, def time.Duration, err error) error {
	after, ok := backoff.RetryAfter(a.header.Get("Retry-After"), time.Now())
	if !ok {
		after = def
	}
	return &report.RetryAfterError{After: after, Err: err}
}

// forbidden wraps report.ErrForbidden with what the destination said.
func forbidden(what string) error {
	return fmt.Errorf("%w: %s", report.ErrForbidden, what)
}

// shorten keeps a service's message readable in a log line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// errStatus is an answer no rule here covers: transient, as far as a sink
// can tell.
func errStatus(what string, a answer, detail string) error {
	if detail == "" {
		detail = shorten(string(a.body))
	}
	if detail == "" {
		return fmt.Errorf("%s: %d %s", what, a.status, http.StatusText(a.status))
	}
	return fmt.Errorf("%s: %d %s: %s", what, a.status, http.StatusText(a.status), detail)
}

// httpsURL checks a destination URL: absolute, HTTPS (tokens never go in
// clear), with no user info.
func httpsURL(raw, what string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, fmt.Errorf("no %s URL", what)
	case err != nil:
		return nil, fmt.Errorf("%s URL: %w", what, err)
	case u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("%s URL %q: want https://host/…", what, redact(raw))
	case u.User != nil:
		return nil, errors.New(what + " URL: credentials in the URL are not used; tokens come from the sign-in")
	}
	return u, nil
}
