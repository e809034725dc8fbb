package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzLiveAPIs sends arbitrary queries and route bodies to the canned
// APIs: each answers 200 or a 400 in Maps' error shape, never a 5xx or a
// panic, whatever the paths and pins ask to draw.
func FuzzLiveAPIs(f *testing.F) {
	srv, err := New(Options{NoListener: true, MapsRate: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	key := "subscription-key=" + srv.SharedKeys()[0]
	f.Add("/map/static", "api-version=2024-04-01&center=-122.13,47.64&zoom=15&width=80&height=80&path=lcFF0000|fc00FF00|lw4||-122.13 47.64|-122.12 47.64|-122.12 47.65|-122.13 47.64&pins=default|coFF0000||'A'-122.13 47.64", "")
	f.Add("/map/static", "api-version=2024-04-01&bbox=-122.14,47.63,-122.11,47.65&zoom=14&path=ra500||-122.13 47.64", "")
	f.Add("/geocode", "api-version=2026-01-01&query=seattle&top=3", "")
	f.Add("/reverseGeocode", "api-version=2026-01-01&coordinates=-122.3,47.6", "")
	f.Add("/timezone/byCoordinates/json", "api-version=1.0&query=47.6,-122.3&options=all&transitionsYears=5", "")
	f.Add("/weather/currentConditions/json", "api-version=1.1&query=47.6,-122.3&unit=imperial", "")
	f.Add("/route/directions", "api-version=2025-01-01", `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-122.2,47.6]},"properties":{"pointIndex":0,"pointType":"waypoint"}},{"type":"Feature","geometry":{"type":"Point","coordinates":[-122.3,47.7]},"properties":{"pointIndex":1,"pointType":"waypoint"}}],"routeOutputOptions":["routePath"]}`)
	f.Fuzz(func(t *testing.T, path, query, body string) {
		switch path {
		case "/map/static", "/geocode", "/reverseGeocode", "/timezone/byCoordinates/json", "/weather/currentConditions/json", "/route/directions":
		default:
			return
		}
		method := http.MethodGet
		if path == "/route/directions" {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "https://emulator.invalid"+path, strings.NewReader(body))
		req.URL.RawQuery = query + "&" + key
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s?%s: %d %s", path, query, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusBadRequest && !strings.Contains(rec.Body.String(), `"400 BadRequest"`) {
			t.Fatalf("%s?%s: 400 without a Maps error body: %s", path, query, rec.Body)
		}
	})
}
