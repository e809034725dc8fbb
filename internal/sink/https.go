package sink

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/report"
)

// HTTPSConfig configures the sink for the user's own API.
type HTTPSConfig struct {
	// URL is where batches are posted; HTTPS only.
	URL string
	// Scope is the resource tokens are asked for: the API's application ID
	// URI (api://APP-ID), which the credential turns into a scope.
	Scope     string
	Tokens    TokenSource
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// HTTPS posts each batch as NDJSON with the batch id as its
// Idempotency-Key, read as the IETF draft (draft-ietf-httpapi-idempotency-
// key-header) has it: a 2xx is the batch accepted, or a replay of an
// earlier acceptance; 409 is the same key still being processed; 422 is
// the key reused with another payload.
type HTTPS struct {
	conn
	target string
}

// NewHTTPS checks the URL and the scope.
func NewHTTPS(cfg HTTPSConfig) (*HTTPS, error) {
	u, err := httpsURL(cfg.URL, "https sink")
	if err != nil {
		return nil, err
	}
	if cfg.Scope == "" {
		return nil, fmt.Errorf("https sink: no token scope")
	}
	if cfg.Tokens == nil || cfg.Transport == nil {
		return nil, fmt.Errorf("https sink: a token source and a transport are needed")
	}
	return &HTTPS{conn: newConn(cfg.Transport, cfg.Tokens, cfg.Scope, cfg.Logger), target: u.String()}, nil
}

// Name is the sink's name for --sink.
func (s *HTTPS) Name() string { return "https" }

// Send posts the batch, with the same key and bytes on every resend.
func (s *HTTPS) Send(ctx context.Context, batch report.Batch) error {
	sum := sha256.Sum256(batch.Body)
	h := http.Header{}
	h.Set("Content-Type", "application/x-ndjson")
	// An RFC 8941 string: batch ids hold no quote or backslash.
	h.Set("Idempotency-Key", `"`+batch.ID+`"`)
	h.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	a, err := s.do(ctx, http.MethodPost, s.target, h, batch.Body, func(a answer) bool { return a.status == http.StatusUnauthorized })
	if err != nil {
		return err
	}
	if a.status/100 == 2 {
		s.log.DebugContext(ctx, "batch accepted", "batch", batch.ID, "status", a.status, "readings", batch.Count)
		return nil
	}
	return httpsFailure(a)
}

// httpsFailure says what an answer means for the batch. A 404 or 405 says
// the URL is wrong, not the readings, so it is retried, not refused.
func httpsFailure(a answer) error {
	detail := problemDetail(a)
	switch a.status {
	case http.StatusConflict:
		return busy(a, time.Second, errStatus("post batch: the key is still being processed", a, detail))
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return busy(a, time.Second, errStatus("post batch", a, detail))
	case http.StatusUnauthorized, http.StatusForbidden:
		return forbidden(fmt.Sprintf("the API answered %d %s: %s", a.status, http.StatusText(a.status), detail))
	case http.StatusUnprocessableEntity:
		return &report.RejectedError{Status: a.status, Reason: "the API saw this batch's key with other content: " + detail}
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestTimeout:
		return errStatus("post batch", a, detail)
	}
	if a.status/100 == 4 {
		return &report.RejectedError{Status: a.status, Reason: detail}
	}
	return errStatus("post batch", a, detail)
}

// problemDetail is an answer's reason: an RFC 9457 problem's detail or
// title, the bearer challenge's error description, or the text.
func problemDetail(a answer) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(a.body, &p) == nil && (p.Detail != "" || p.Title != "") {
		return shorten(strings.TrimPrefix(p.Title+": "+p.Detail, ": "))
	}
	if c := a.header.Get("WWW-Authenticate"); c != "" && len(a.body) == 0 {
		return shorten(c)
	}
	if t := shorten(string(a.body)); t != "" {
		return t
	}
	return http.StatusText(a.status)
}
