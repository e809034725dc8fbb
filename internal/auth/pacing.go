package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/backoff"
)

// pacer is the HTTP transport handed to MSAL. MSAL polls the token endpoint
// at 50 ms, 150 ms, 450 ms… regardless of the server's interval; RFC 8628
// §3.5 says to wait interval seconds between polls and 5 s more after each
// slow_down. The pacer holds every device code poll until its time comes.
// It also keeps verification_uri_complete, which MSAL drops.
type pacer struct {
	next http.RoundTripper

	mu    sync.Mutex
	codes map[string]*pace // by device code
}

type pace struct {
	interval time.Duration
	last     time.Time // end of the last poll, or when the code was issued
	complete string
}

func newPacer(next http.RoundTripper) *pacer {
	return &pacer{next: next, codes: map[string]*pace{}}
}

func (p *pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost {
		return p.next.RoundTrip(req)
	}
	switch {
	case strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/devicecode"):
		return p.deviceCode(req)
	case strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token"):
		form, err := readForm(req)
		if err != nil {
			return nil, err
		}
		if gt := form.Get("grant_type"); gt == "device_code" || gt == "urn:ietf:params:oauth:grant-type:device_code" {
			return p.poll(req, form.Get("device_code"))
		}
	}
	return p.next.RoundTrip(req)
}

// deviceCode learns the interval of a new code from the server's answer.
func (p *pacer) deviceCode(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var dc struct {
		DeviceCode string `json:"device_code"`
		Interval   int    `json:"interval"`
		Complete   string `json:"verification_uri_complete"`
	}
	if json.Unmarshal(body, &dc) == nil && dc.DeviceCode != "" {
		interval := time.Duration(dc.Interval) * time.Second
		if interval <= 0 {
			interval = 5 * time.Second // RFC 8628 §3.2 default
		}
		p.mu.Lock()
		p.codes[dc.DeviceCode] = &pace{interval: interval, last: time.Now(), complete: dc.Complete}
		p.mu.Unlock()
	}
	return resp, nil
}

func (p *pacer) poll(req *http.Request, code string) (*http.Response, error) {
	p.mu.Lock()
	pc := p.codes[code]
	var wait time.Duration
	if pc != nil {
		wait = time.Until(pc.last.Add(pc.interval))
	}
	p.mu.Unlock()
	if wait > 0 {
		if err := backoff.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
	resp, err := p.next.RoundTrip(req)
	if pc == nil {
		return resp, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.last = time.Now()
	if err != nil {
		return resp, err
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		switch e.Error {
		case "slow_down":
			pc.interval += 5 * time.Second
		case "authorization_pending":
		default:
			delete(p.codes, code)
		}
	default:
		delete(p.codes, code)
	}
	return resp, nil
}

// complete returns verification_uri_complete for a device code, if sent.
func (p *pacer) complete(code string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc := p.codes[code]; pc != nil {
		return pc.complete
	}
	return ""
}

// readForm parses a request's form body and puts the body back.
func readForm(req *http.Request) (url.Values, error) {
	if req.Body == nil {
		return url.Values{}, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return url.ParseQuery(string(body))
}
