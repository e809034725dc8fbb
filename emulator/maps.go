package emulator

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
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

// mapsState is the Maps account's state: its keys and role assignments,
// the throttle, the map data and the operations that make it, and where
// each device last stood against each fence.
type mapsState struct {
	opts     Options
	dir      string            // map data folder
	roles    map[string]string // lower-case object id → role
	throttle *limiter          // has its own lock

	mu          sync.Mutex
	sharedKeys  [2]string // RotateMapsKey changes the primary
	tokenCutoff time.Time
	data        map[string]*dataset
	ops         map[string]*operation
	used        int64
	fenceCache  map[string][]geofence.Fence
	fenceState  map[string]bool // device, udid, geometry → inside
}

func newMapsState(opts Options, stateDir string, assignees []assignee) (*mapsState, error) {
	m := &mapsState{
		opts:       opts,
		dir:        filepath.Join(stateDir, "mapdata"),
		roles:      map[string]string{},
		throttle:   newLimiter(opts.MapsRate),
		data:       map[string]*dataset{},
		ops:        map[string]*operation{},
		fenceCache: map[string][]geofence.Fence{},
		fenceState: map[string]bool{},
	}
	for _, a := range assignees {
		if a.role != "" {
			m.roles[strings.ToLower(a.oid)] = a.role
		}
	}
	if err := m.loadDatasets(); err != nil {
		return nil, err
	}
	keys, err := loadOrCreateSharedKeys(filepath.Join(stateDir, sharedKeysFile), opts.SharedKeys)
	if err != nil {
		return nil, err
	}
	m.sharedKeys = keys
	return m, nil
}

// access is what a Maps request needs.
type access int

const (
	accessRead access = iota
	accessWrite
)

// caller is who made an authorised Maps request: a user or a service
// principal, by object id, or the holder of a shared key.
type caller struct {
	oid       string
	sharedKey bool
}

// MapsEndpoint is the Maps account's base URL.
func (s *Server) MapsEndpoint() string { return s.url }

// MapsClientID is the Maps account's client id.
func (s *Server) MapsClientID() string { return s.opts.MapsClientID }

// SharedKeys are the account's primary and secondary keys.
func (s *Server) SharedKeys() [2]string {
	s.maps.mu.Lock()
	defer s.maps.mu.Unlock()
	return s.maps.sharedKeys
}

// ExpireAccessTokens makes the Maps side and Key Vault reject every
// access token this run has issued until now as expired, as if time had
// passed.
func (s *Server) ExpireAccessTokens() {
	s.maps.mu.Lock()
	defer s.maps.mu.Unlock()
	s.maps.tokenCutoff = time.Now()
}

func (s *Server) mapsRoutes(mux *http.ServeMux) {
	s.handle(mux, "POST /mapData", EndpointMapData, s.authorized(accessWrite, s.upload))
	s.handle(mux, "GET /mapData", EndpointMapData, s.authorized(accessRead, s.listData))
	s.handle(mux, "GET /mapData/operations/{id}", EndpointMapData, s.authorized(accessRead, s.operationStatus))
	s.handle(mux, "GET /mapData/metadata/{udid}", EndpointMapData, s.authorized(accessRead, s.metadata))
	s.handle(mux, "GET /mapData/{udid}", EndpointMapData, s.authorized(accessRead, s.download))
	s.handle(mux, "PUT /mapData/{udid}", EndpointMapData, s.authorized(accessWrite, s.updateData))
	s.handle(mux, "DELETE /mapData/{udid}", EndpointMapData, s.authorized(accessWrite, s.deleteData))
	s.handle(mux, "GET /spatial/geofence/json", EndpointGeofence, s.authorized(accessRead, s.geofenceGet))
	s.handle(mux, "POST /spatial/geofence/json", EndpointGeofence, s.authorized(accessRead, s.geofencePost))
	// A few live APIs answer with canned data (route.go, search.go,
	// timezone.go, weather.go, render.go).
	s.handle(mux, "/route/directions", EndpointRoute, s.authorized(accessRead, s.routeDirections))
	s.handle(mux, "GET /geocode", EndpointSearch, s.authorized(accessRead, s.geocode))
	s.handle(mux, "GET /reverseGeocode", EndpointSearch, s.authorized(accessRead, s.reverseGeocode))
	s.handle(mux, "GET /timezone/byCoordinates/{format}", EndpointTimezone, s.authorized(accessRead, s.timezoneByCoordinates))
	s.handle(mux, "GET /weather/currentConditions/{format}", EndpointWeather, s.authorized(accessRead, s.currentConditions))
	s.handle(mux, "GET /map/static", EndpointRender, s.authorized(accessRead, s.staticImage))
	s.handle(mux, "/map/{service}/{format}", EndpointRender, s.authorized(accessRead, s.retiredRender))
	// The rest of Azure Maps is not emulated, but is authenticated and
	// logged, so clients can be tested against it.
	s.handle(mux, "/", EndpointMapsAPI, s.authorized(accessRead, s.notEmulated))
}

// authorized authenticates, authorises and throttles a Maps request.
func (s *Server) authorized(need access, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !c.sharedKey && !s.maps.allowed(c.oid, need) {
			writeMapsError(w, http.StatusForbidden, "403 Forbidden", "Permission, capacity, or authentication issues.")
			return
		}
		if !s.maps.throttle.allow(time.Now()) {
			writeMapsError(w, http.StatusTooManyRequests, "429 Too Many Requests", "Rate limit is exceeded. Try again later.")
			return
		}
		h(w, r, c)
	}
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	if key := r.URL.Query().Get("subscription-key"); key != "" {
		for _, k := range s.SharedKeys() {
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
	claims, problem := s.checkAccessToken(raw)
	if problem != "" {
		s.unauthorized(w, "invalid_token", problem)
		return caller{}, false
	}
	if aud, _ := claims["aud"].(string); strings.TrimSuffix(aud, "/") != strings.TrimSuffix(MapsAudience, "/") {
		s.unauthorized(w, "invalid_token", "The access token audience is not Azure Maps.")
		return caller{}, false
	}
	// A user's token carries the delegated scope; an app's has none.
	if scp, ok := claims["scp"].(string); ok && !slices.Contains(strings.Fields(scp), "user_impersonation") {
		s.unauthorized(w, "invalid_token", "The access token has no user_impersonation scope.")
		return caller{}, false
	}
	if got := r.Header.Get("x-ms-client-id"); got != s.opts.MapsClientID {
		s.unauthorized(w, "InvalidClientId", "The x-ms-client-id header is missing or names another Maps account.")
		return caller{}, false
	}
	oid, _ := claims["oid"].(string)
	return caller{oid: oid}, true
}

// checkAccessToken verifies a token's signature and expiry, and that
// ExpireAccessTokens has not expired it; problem says what is wrong.
func (s *Server) checkAccessToken(raw string) (claims jwt.MapClaims, problem string) {
	claims, err := s.VerifyAccessToken(raw)
	if err != nil {
		return nil, "The access token is invalid or expired."
	}
	uti, _ := claims["uti"].(string)
	issued, known := s.id.issued(uti)
	s.maps.mu.Lock()
	expired := known && !s.maps.tokenCutoff.IsZero() && !issued.After(s.maps.tokenCutoff)
	s.maps.mu.Unlock()
	if expired {
		return nil, "The access token expiry UTC time is earlier than current UTC time."
	}
	return claims, ""
}

func (s *Server) unauthorized(w http.ResponseWriter, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s", error="%s", error_description="%s"`, mapsRealm, code, desc))
	writeMapsError(w, http.StatusUnauthorized, "Unauthorized", "Access denied, please inspect WWW-Authenticate header.")
}

// allowed applies the Azure Maps data roles, assigned by object id.
func (m *mapsState) allowed(oid string, need access) bool {
	switch m.roles[strings.ToLower(oid)] {
	case RoleDataContributor:
		return true
	case RoleDataReader:
		return need == accessRead
	}
	return false
}

func (s *Server) notEmulated(w http.ResponseWriter, r *http.Request, _ caller) {
	writeMapsError(w, http.StatusNotFound, "ResourceNotFound",
		"The emulator does not implement "+r.URL.Path+"; it is answered by the real Azure Maps.")
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
