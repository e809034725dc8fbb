package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
)

// startLive starts an emulator over TLS with no throttle: each test gets
// its own, as the request log and faults are shared state.
func startLive(t *testing.T) *emulator.Server {
	t.Helper()
	return emulatortest.Start(t, emulator.Options{MapsRate: -1})
}

// liveCall sends a Maps request with the primary shared key over TLS and
// returns the status, the headers and the body.
func liveCall(t *testing.T, srv *emulator.Server, method, path string, q url.Values, body string) (int, http.Header, []byte) {
	t.Helper()
	q.Set("subscription-key", srv.SharedKeys()[0])
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.MapsEndpoint()+path+"?"+q.Encode(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/geo+json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// mapsError is the error body every Maps API answers with.
type mapsError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func wantBadRequest(t *testing.T, status int, body []byte, wantInMessage string) {
	t.Helper()
	var e mapsError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%d %s is not a Maps error body: %v", status, body, err)
	}
	if status != http.StatusBadRequest || e.Error.Code != "400 BadRequest" || !strings.Contains(e.Error.Message, wantInMessage) {
		t.Errorf("got %d %s, want 400 400 BadRequest with %q", status, body, wantInMessage)
	}
}

// haversine is the test's own great-circle length on the sphere the
// emulator documents.
func haversine(lon1, lat1, lon2, lat2 float64) float64 {
	r := math.Pi / 180
	a := math.Pow(math.Sin((lat2-lat1)*r/2), 2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Pow(math.Sin((lon2-lon1)*r/2), 2)
	return 2 * 6378137 * math.Asin(math.Sqrt(a))
}

// TestLiveAPIsAuthorize checks the canned APIs go through the same
// authentication, roles and log as the rest of the Maps side: a reader
// signed in with the real MSAL client may call them, a user without a
// Maps role gets 403, and no token gets 401.
func TestLiveAPIsAuthorize(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{Users: []emulator.User{{Username: "nobody@emulator.test", Role: "none"}}})
	reader := &emulatortest.Tokens{Client: emulatortest.SignIn(t, srv, emulator.ReaderUser)}
	nobody := &emulatortest.Tokens{Client: emulatortest.SignIn(t, srv, "nobody@emulator.test")}
	calls := []struct {
		method, path, query, body string
		endpoint                  emulator.Endpoint
	}{
		{"POST", "/route/directions", "api-version=2025-01-01", routeBody, emulator.EndpointRoute},
		{"GET", "/geocode", "api-version=2026-01-01&query=Seattle", "", emulator.EndpointSearch},
		{"GET", "/reverseGeocode", "api-version=2026-01-01&coordinates=-122.33,47.6", "", emulator.EndpointSearch},
		{"GET", "/timezone/byCoordinates/json", "api-version=1.0&query=47.6,-122.33", "", emulator.EndpointTimezone},
		{"GET", "/weather/currentConditions/json", "api-version=1.1&query=47.6,-122.33", "", emulator.EndpointWeather},
		{"GET", "/map/static", "api-version=2024-04-01&center=-122.33,47.6&zoom=12", "", emulator.EndpointRender},
	}
	do := func(t *testing.T, method, path, query, body string, tokens *emulatortest.Tokens) (int, http.Header) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.MapsEndpoint()+path+"?"+query, rd)
		if tokens != nil {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			tok, err := tokens.Token(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("x-ms-client-id", srv.MapsClientID())
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for _, c := range calls {
		t.Run(c.path, func(t *testing.T) {
			if status, _ := do(t, c.method, c.path, c.query, c.body, reader); status != 200 {
				t.Errorf("a Data Reader: %d, want 200", status)
			}
			if status, _ := do(t, c.method, c.path, c.query, c.body, nobody); status != 403 {
				t.Errorf("no Maps role: %d, want 403", status)
			}
			status, h := do(t, c.method, c.path, c.query, c.body, nil)
			if status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("no token: %d %q, want 401 invalid_token", status, h.Get("WWW-Authenticate"))
			}
			var logged int
			for _, r := range srv.Requests() {
				if r.Path == c.path && r.Endpoint == c.endpoint {
					logged++
				}
			}
			if logged != 3 {
				t.Errorf("%d requests logged under %q, want 3", logged, c.endpoint)
			}
		})
	}
}

// TestLiveAPIFaultsHaveMapsShape checks an injected fault on a canned API
// answers as Azure Maps, not as Entra ID.
func TestLiveAPIFaultsHaveMapsShape(t *testing.T) {
	srv := startLive(t)
	srv.InjectFault(emulator.EndpointSearch, emulator.Fault{Status: 503})
	status, _, body := liveCall(t, srv, "GET", "/geocode", url.Values{"api-version": {"2026-01-01"}, "query": {"Seattle"}}, "")
	var e mapsError
	if err := json.Unmarshal(body, &e); err != nil || status != 503 || e.Error.Code != "503 Service Unavailable" {
		t.Errorf("%d %s, want 503 in Maps' error shape", status, body)
	}
}
