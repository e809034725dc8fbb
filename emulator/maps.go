package emulator

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The Maps side answers at the emulator's own address, as a Maps account.
const (
	// DefaultMapsClientID is the Maps account's client id (x-ms-client-id).
	DefaultMapsClientID = "6d617073-6163-4063-8f75-6e7400000001"
	mapsRealm           = "https://atlas.microsoft.com/"
)

// The Maps endpoints, for the request log and fault injection.
const (
	EndpointMapData  Endpoint = "mapData"
	EndpointGeofence Endpoint = "geofence"
	EndpointMapsAPI  Endpoint = "maps-other"
)

// access is what a Maps request needs.
type access int

const (
	accessRead access = iota
	accessWrite
)

// caller is who made an authorised Maps request.
type caller struct {
	user      string // "" for a shared key
	sharedKey bool
}

// MapsEndpoint is the Maps account's base URL.
func (s *Server) MapsEndpoint() string { return s.url }

// MapsClientID is the Maps account's client id.
func (s *Server) MapsClientID() string { return s.opts.MapsClientID }

// SharedKeys are the account's primary and secondary keys.
func (s *Server) SharedKeys() [2]string { return s.sharedKeys }

// ExpireAccessTokens makes the Maps side reject every access token this
// run has issued until now as expired, as if time had passed.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCutoff = time.Now()
}

func (s *Server) mapsRoutes(mux *http.ServeMux) {
	s.handle(mux, "POST /mapData", EndpointMapData, s.maps(accessWrite, s.upload))
	s.handle(mux, "GET /mapData", EndpointMapData, s.maps(accessRead, s.listData))
	s.handle(mux, "GET /mapData/operations/{id}", EndpointMapData, s.maps(accessRead, s.operationStatus))
	s.handle(mux, "GET /mapData/metadata/{udid}", EndpointMapData, s.maps(accessRead, s.metadata))
	s.handle(mux, "GET /mapData/{udid}", EndpointMapData, s.maps(accessRead, s.download))
	s.handle(mux, "PUT /mapData/{udid}", EndpointMapData, s.maps(accessWrite, s.updateData))
	s.handle(mux, "DELETE /mapData/{udid}", EndpointMapData, s.maps(accessWrite, s.deleteData))
	s.handle(mux, "GET /spatial/geofence/json", EndpointGeofence, s.maps(accessRead, s.geofenceGet))
	s.handle(mux, "POST /spatial/geofence/json", EndpointGeofence, s.maps(accessRead, s.geofencePost))
	// The rest of Azure Maps (route, search, render, ...) is not emulated,
	// but is authenticated and logged, so clients can be tested against it.
	s.handle(mux, "/", EndpointMapsAPI, s.maps(accessRead, s.notEmulated))
}

// maps authenticates, authorises and throttles a Maps request.
func (s *Server) maps(need access, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !c.sharedKey && !s.allowed(c.user, need) {
			writeMapsError(w, http.StatusForbidden, "403 Forbidden", "Permission, capacity, or authentication issues.")
			return
		}
		if !s.throttle.allow(time.Now()) {
			writeMapsError(w, http.StatusTooManyRequests, "429 Too Many Requests", "Rate limit is exceeded. Try again later.")
			return
		}
		h(w, r, c)
	}
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	if key := r.URL.Query().Get("subscription-key"); key != "" {
		for _, k := range s.sharedKeys {
			if subtle.ConstantTimeCompare([]byte(key), []byte(k)) == 1 {
				return caller{sharedKey: true}, true
			}
		}
		writeMapsError(w, http.StatusUnauthorized, "401 Unauthorized", "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.")
		return caller{}, false
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		s.unauthorized(w, "invalid_token", "The request has no bearer token.")
		return caller{}, false
	}
	claims, err := s.VerifyAccessToken(raw)
	if err != nil {
		s.unauthorized(w, "invalid_token", "The access token is invalid or expired.")
		return caller{}, false
	}
	uti, _ := claims["uti"].(string)
	s.mu.Lock()
	issued, known := s.issuedAt[uti]
	expired := known && !s.tokenCutoff.IsZero() && !issued.After(s.tokenCutoff)
	s.mu.Unlock()
	if expired {
		s.unauthorized(w, "invalid_token", "The access token expiry UTC time is earlier than current UTC time.")
		return caller{}, false
	}
	if aud, _ := claims["aud"].(string); strings.TrimSuffix(aud, "/") != strings.TrimSuffix(MapsAudience, "/") {
		s.unauthorized(w, "invalid_token", "The access token audience is not Azure Maps.")
		return caller{}, false
	}
	if scp, _ := claims["scp"].(string); !slices.Contains(strings.Fields(scp), "user_impersonation") {
		s.unauthorized(w, "invalid_token", "The access token has no user_impersonation scope.")
		return caller{}, false
	}
	if got := r.Header.Get("x-ms-client-id"); got != s.opts.MapsClientID {
		s.unauthorized(w, "InvalidClientId", "The x-ms-client-id header is missing or names another Maps account.")
		return caller{}, false
	}
	upn, _ := claims["upn"].(string)
	return caller{user: upn}, true
}

func (s *Server) unauthorized(w http.ResponseWriter, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s", error="%s", error_description="%s"`, mapsRealm, code, desc))
	writeMapsError(w, http.StatusUnauthorized, "Unauthorized", "Access denied, please inspect WWW-Authenticate header.")
}

// allowed applies the Azure Maps data roles.
func (s *Server) allowed(user string, need access) bool {
	s.mu.Lock()
	u, ok := s.user(user)
	s.mu.Unlock()
	if !ok {
		return false
	}
	switch u.Role {
	case RoleDataContributor:
		return true
	case RoleDataReader:
		return need == accessRead
	}
	return false
}

func (s *Server) notEmulated(w http.ResponseWriter, r *http.Request, _ caller) {
	writeMapsError(w, http.StatusNotFound, "ResourceNotFound",
		"The emulator implements only the Data v2 and Spatial geofence services; "+r.URL.Path+" is answered by the real Azure Maps.")
}

// writeMapsError answers in the shape Azure Maps uses.
func writeMapsError(w http.ResponseWriter, status int, code, message string, details ...mapsDetail) {
	body := map[string]any{"code": code, "message": message}
	if len(details) > 0 {
		body["details"] = details
	}
	writeJSON(w, status, map[string]any{"error": body})
}

type mapsDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// limiter is a token bucket: rate requests per second, bursts of rate.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newLimiter(rate float64) *limiter { return &limiter{rate: rate, tokens: rate} }

func (l *limiter) allow(now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
