package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Endpoint names a group of routes, for the request log and fault injection.
type Endpoint string

// The identity endpoints.
const (
	EndpointDiscovery   Endpoint = "openid-configuration"
	EndpointKeys        Endpoint = "keys"
	EndpointDeviceCode  Endpoint = "devicecode"
	EndpointToken       Endpoint = "token"
	EndpointDeviceLogin Endpoint = "devicelogin"
)

// Request is one entry of the request log.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	Query    url.Values
	Endpoint Endpoint
	// ClientID is the x-ms-client-id header; Bearer says whether an
	// Authorization: Bearer header came. The token itself is not kept.
	ClientID string
	Bearer   bool
}

// Fault changes how the emulator answers the next Count requests to an
// endpoint: it waits Delay, then, when Status is set, answers with that
// status and an Entra-shaped error (Error, default "temporarily_unavailable").
type Fault struct {
	Count  int
	Delay  time.Duration
	Status int
	Error  string
	// Code is the AADSTS number in the body, if any.
	Code int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Reset drops the connection without an answer.
	Reset bool
}

// traffic is what both sides share: the request log and the faults
// waiting to be served.
type traffic struct {
	mu         sync.Mutex
	requests   []Request
	faults     map[Endpoint][]Fault
	faultRates map[Endpoint]faultRate
}

func newTraffic() *traffic {
	return &traffic{faults: map[Endpoint][]Fault{}, faultRates: map[Endpoint]faultRate{}}
}

// faultRate fails a share of an endpoint's requests at random.
type faultRate struct {
	rate   float64
	faults []Fault
}

// SetFaultRate makes a share (0 to 1) of the requests to an endpoint fail
// with one of the faults, picked at random; rate 0 turns it off.
func (s *Server) SetFaultRate(e Endpoint, rate float64, faults ...Fault) {
	t := s.traffic
	t.mu.Lock()
	defer t.mu.Unlock()
	if rate <= 0 || len(faults) == 0 {
		delete(t.faultRates, e)
		return
	}
	t.faultRates[e] = faultRate{rate: rate, faults: faults}
}

// InjectFault queues a fault for an endpoint. Faults run in order.
func (s *Server) InjectFault(e Endpoint, f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	t := s.traffic
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults[e] = append(t.faults[e], f)
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	t := s.traffic
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Request(nil), t.requests...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.handle(mux, "GET /{tenant}/v2.0/.well-known/openid-configuration", EndpointDiscovery, s.discovery)
	s.handle(mux, "GET /{tenant}/discovery/v2.0/keys", EndpointKeys, s.jwks)
	s.handle(mux, "POST /{tenant}/oauth2/v2.0/devicecode", EndpointDeviceCode, s.deviceCode)
	s.handle(mux, "POST /{tenant}/oauth2/v2.0/token", EndpointToken, s.token)
	s.handle(mux, "GET /devicelogin", EndpointDeviceLogin, s.deviceLoginPage)
	s.handle(mux, "POST /devicelogin", EndpointDeviceLogin, s.deviceLoginForm)
	s.handle(mux, "GET /{tenant}/oauth2/v2.0/authorize", EndpointAuthorize, s.authorize)
	s.handle(mux, "POST /{tenant}/oauth2/v2.0/authorize", EndpointAuthorize, s.authorize)
	s.handle(mux, "GET /emulator/policy", EndpointControl, s.policyControl)
	s.handle(mux, "POST /emulator/policy", EndpointControl, s.policyControl)
	s.ficRoutes(mux)
	s.identityRoutes(mux)
	s.vaultRoutes(mux)
	s.eventHubsRoutes(mux)
	s.mapsRoutes(mux)
	return mux
}

func (s *Server) handle(mux *http.ServeMux, pattern string, e Endpoint, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f, ok := s.traffic.log(r, e)
		if ok && f.Reset && reset(w) {
			return
		}
		if ok {
			if f.Delay > 0 {
				timer := time.NewTimer(f.Delay)
				select {
				case <-timer.C:
				case <-r.Context().Done():
					// The client gave up or the emulator is closing:
					// drop the connection rather than answer.
					timer.Stop()
					reset(w)
					return
				}
			}
			if f.Status != 0 {
				if f.RetryAfter != "" {
					w.Header().Set("Retry-After", f.RetryAfter)
				}
				name := f.Error
				switch {
				case e == EndpointEventHubs:
					// Service Bus answers errors in XML.
					detail := "Injected fault."
					if name != "" {
						detail = name + ": " + detail
					}
					writeEventHubsError(w, f.Status, detail)
				case e.isMaps() || e == EndpointKeyVault:
					if name == "" {
						name = fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
					}
					writeMapsError(w, f.Status, name, "Injected fault.")
				default:
					if name == "" {
						name = "temporarily_unavailable"
					}
					writeError(w, f.Status, name, f.Code, "Injected fault.")
				}
				return
			}
		}
		h(w, r)
	})
}

// reset drops the connection without an answer.
func reset(w http.ResponseWriter) bool {
	if m, ok := w.(*memoryResponse); ok {
		m.reset()
		return true
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// log records a request and returns the fault to serve it with, if any.
func (t *traffic) log(r *http.Request, e Endpoint) (Fault, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests = append(t.requests, Request{
		Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Endpoint: e,
		ClientID: r.Header.Get("x-ms-client-id"), Bearer: strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "),
	})
	queue := t.faults[e]
	if len(queue) == 0 {
		if fr, ok := t.faultRates[e]; ok && mathrand.Float64() < fr.rate {
			return fr.faults[mathrand.IntN(len(fr.faults))], true
		}
		return Fault{}, false
	}
	f := queue[0]
	queue[0].Count--
	if queue[0].Count <= 0 {
		t.faults[e] = queue[1:]
	}
	return f, true
}

// tenantOK accepts the tenant id and the multi-tenant aliases MSAL uses.
func (s *Server) tenantOK(w http.ResponseWriter, r *http.Request) bool {
	t := r.PathValue("tenant")
	switch strings.ToLower(t) {
	case strings.ToLower(s.opts.TenantID), "organizations", "common":
		return true
	}
	writeError(w, http.StatusBadRequest, "invalid_tenant", 90002,
		fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", t))
	return false
}

func (s *Server) issuer() string { return s.url + "/" + s.opts.TenantID + "/v2.0" }

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	if !s.tenantOK(w, r) {
		return
	}
	base := s.url + "/" + r.PathValue("tenant")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer(),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "device_code", "client_credentials"},
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   "emulator.test",
	})
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if !s.tenantOK(w, r) {
		return
	}
	pub := s.keys.signKey.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty":    "RSA",
		"use":    "sig",
		"alg":    "RS256",
		"kid":    s.keys.signKeyID,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"issuer": s.issuer(),
	}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the shape Entra ID uses.
func writeError(w http.ResponseWriter, status int, name string, code int, description string) {
	now := time.Now().UTC()
	trace, corr := newGUID(), newGUID()
	desc := description
	if code != 0 {
		desc = fmt.Sprintf("AADSTS%d: %s", code, description)
	}
	desc += fmt.Sprintf(" Trace ID: %s Correlation ID: %s Timestamp: %s", trace, corr, now.Format("2006-01-02 15:04:05Z"))
	body := map[string]any{
		"error":             name,
		"error_description": desc,
		"error_codes":       []int{},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    corr,
	}
	if code != 0 {
		body["error_codes"] = []int{code}
		body["error_uri"] = fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code)
	}
	writeJSON(w, status, body)
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
