package emulator_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"
)

const routeBody = `{
  "type": "FeatureCollection",
  "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-122.201399, 47.608678]}, "properties": {"pointIndex": 0, "pointType": "waypoint"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-122.20687, 47.612002]}, "properties": {"pointIndex": 1, "pointType": "viaWaypoint"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-122.126986, 47.639754]}, "properties": {"pointIndex": 2, "pointType": "waypoint"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-122.349309, 47.620422]}, "properties": {"pointIndex": 3, "pointType": "waypoint"}}
  ],
  "travelMode": "driving",
  "routeOutputOptions": ["routePath"],
  "departAt": "2026-11-22T08:00:00Z"
}`

// routeAnswer is what a client reads of a Route Directions answer.
type routeAnswer struct {
	Type     string `json:"type"`
	Features []struct {
		Type     string    `json:"type"`
		BBox     []float64 `json:"bbox"`
		Geometry struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
		Properties struct {
			Type  string `json:"type"`
			Order struct {
				InputIndex int `json:"inputIndex"`
			} `json:"order"`
			DistanceInMeters  float64 `json:"distanceInMeters"`
			DurationInSeconds float64 `json:"durationInSeconds"`
			DepartureAt       string  `json:"departureAt"`
			ArrivalAt         string  `json:"arrivalAt"`
			Legs              []struct {
				DistanceInMeters  float64 `json:"distanceInMeters"`
				DurationInSeconds float64 `json:"durationInSeconds"`
				RoutePathRange    struct {
					Range [2]int `json:"range"`
				} `json:"routePathRange"`
			} `json:"legs"`
		} `json:"properties"`
	} `json:"features"`
}

func TestRouteDirections(t *testing.T) {
	srv := startLive(t)
	q := url.Values{"api-version": {"2025-01-01"}}
	status, h, body := liveCall(t, srv, "POST", "/route/directions", q, routeBody)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/geo+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got routeAnswer
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "FeatureCollection" || len(got.Features) != 4 {
		t.Fatalf("want the 3 waypoints and the path, got %s", body)
	}
	for i, want := range []int{0, 2, 3} {
		if f := got.Features[i]; f.Properties.Type != "Waypoint" || f.Properties.Order.InputIndex != want {
			t.Errorf("feature %d: %s waypoint %d, want Waypoint %d", i, f.Properties.Type, f.Properties.Order.InputIndex, want)
		}
	}
	route := got.Features[3]
	if route.Properties.Type != "RoutePath" || route.Geometry.Type != "MultiLineString" {
		t.Fatalf("last feature %s %s, want the RoutePath MultiLineString", route.Properties.Type, route.Geometry.Type)
	}
	leg1 := haversine(-122.201399, 47.608678, -122.20687, 47.612002) + haversine(-122.20687, 47.612002, -122.126986, 47.639754)
	leg2 := haversine(-122.126986, 47.639754, -122.349309, 47.620422)
	if d := route.Properties.DistanceInMeters; math.Abs(d-(leg1+leg2)) > 1 {
		t.Errorf("distance %.0f m, want the great-circle length %.0f m", d, leg1+leg2)
	}
	if len(route.Properties.Legs) != 2 {
		t.Fatalf("%d legs, want 2: the via waypoint makes none", len(route.Properties.Legs))
	}
	for i, want := range []float64{leg1, leg2} {
		if d := route.Properties.Legs[i].DistanceInMeters; math.Abs(d-want) > 1 {
			t.Errorf("leg %d: %.0f m, want %.0f m", i, d, want)
		}
	}
	// 50 km/h, from the given departure; the legs add up to the route.
	wantSecs := math.Round((leg1 + leg2) / (50 / 3.6))
	secs := route.Properties.DurationInSeconds
	if legs := route.Properties.Legs[0].DurationInSeconds + route.Properties.Legs[1].DurationInSeconds; secs != wantSecs || legs != secs {
		t.Errorf("duration %v s, legs %v s, want %v s", secs, legs, wantSecs)
	}
	dep, err1 := time.Parse(time.RFC3339, route.Properties.DepartureAt)
	arr, err2 := time.Parse(time.RFC3339, route.Properties.ArrivalAt)
	if err1 != nil || err2 != nil || !dep.Equal(time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)) || arr.Sub(dep) != time.Duration(secs)*time.Second {
		t.Errorf("departure %q arrival %q", route.Properties.DepartureAt, route.Properties.ArrivalAt)
	}
	var lines [][][2]float64
	if err := json.Unmarshal(route.Geometry.Coordinates, &lines); err != nil || len(lines) != 1 {
		t.Fatalf("coordinates %s: %v", route.Geometry.Coordinates, err)
	}
	path := lines[0]
	first, last := path[0], path[len(path)-1]
	if math.Abs(first[0]+122.201399) > 1e-6 || math.Abs(first[1]-47.608678) > 1e-6 ||
		math.Abs(last[0]+122.349309) > 1e-6 || math.Abs(last[1]-47.620422) > 1e-6 {
		t.Errorf("path runs %v to %v, want from the first waypoint to the last, longitude first", first, last)
	}
	var along float64
	for i := 1; i < len(path); i++ {
		along += haversine(path[i-1][0], path[i-1][1], path[i][0], path[i][1])
	}
	if math.Abs(along-(leg1+leg2)) > 2 {
		t.Errorf("the path is %.0f m long, the distance says %.0f m", along, leg1+leg2)
	}
	if r := route.Properties.Legs[1].RoutePathRange.Range; r[1] != len(path)-1 {
		t.Errorf("last leg ends at path point %d of %d", r[1], len(path))
	}
	if b := route.BBox; len(b) != 4 || b[0] > -122.349309 || b[2] < -122.126986 {
		t.Errorf("bbox %v does not hold the route", b)
	}
}

func TestRouteSummaryOnly(t *testing.T) {
	srv := startLive(t)
	body := strings.Replace(routeBody, `["routePath"]`, `["routeSummary"]`, 1)
	body = strings.Replace(body, `"driving"`, `"walking"`, 1)
	status, _, raw := liveCall(t, srv, "POST", "/route/directions", url.Values{"api-version": {"2025-01-01"}}, body)
	var got routeAnswer
	if err := json.Unmarshal(raw, &got); err != nil || status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	if len(got.Features) != 1 || got.Features[0].Properties.Type != "RoutePath" || string(got.Features[0].Geometry.Coordinates) != "[]" {
		t.Fatalf("want the RoutePath alone with no coordinates, as the service answers routeSummary: %s", raw)
	}
	walk := got.Features[0].Properties
	if want := math.Round(walk.DistanceInMeters / (5 / 3.6)); math.Abs(walk.DurationInSeconds-want) > 1 {
		t.Errorf("walking %v m took %v s, want %v s", walk.DistanceInMeters, walk.DurationInSeconds, want)
	}
}

func TestRouteDirectionsBadRequests(t *testing.T) {
	srv := startLive(t)
	one := `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-122.2,47.6]},"properties":{"pointIndex":0,"pointType":"waypoint"}}]}`
	latFirst := strings.Replace(routeBody, "[-122.201399, 47.608678]", "[47.608678, -122.201399]", 1)
	tests := []struct {
		name, method, version, body, want string
	}{
		{"GET", "GET", "2025-01-01", "", "POST"},
		{"no body", "POST", "2025-01-01", "", "body is missing"},
		{"not JSON", "POST", "2025-01-01", "{features", "not valid JSON"},
		{"one waypoint", "POST", "2025-01-01", one, "at least 2 waypoints"},
		{"latitude first", "POST", "2025-01-01", latFirst, "longitude comes first"},
		{"unknown travel mode", "POST", "2025-01-01", strings.Replace(routeBody, `"driving"`, `"flying"`, 1), "travelMode"},
		{"Route 1.0", "POST", "1.0", routeBody, `api-version "1.0"`},
		{"via waypoint last", "POST", "2025-01-01", strings.Replace(routeBody, `"pointIndex": 3, "pointType": "waypoint"`, `"pointIndex": 3, "pointType": "viaWaypoint"`, 1), "end with a waypoint"},
		{"pointIndex twice", "POST", "2025-01-01", strings.Replace(routeBody, `"pointIndex": 3`, `"pointIndex": 2`, 1), "pointIndex"},
		{"maxRouteCount 7", "POST", "2025-01-01", strings.Replace(routeBody, `"travelMode"`, `"maxRouteCount": 7, "travelMode"`, 1), "maxRouteCount"},
		{"unknown output", "POST", "2025-01-01", strings.Replace(routeBody, `["routePath"]`, `["routePath", "instructions"]`, 1), "routeOutputOptions"},
		{"151 waypoints", "POST", "2025-01-01", manyWaypoints(151), "at most 150"},
		{"a LineString", "POST", "2025-01-01", strings.Replace(routeBody, `{"type": "Point", "coordinates": [-122.20687, 47.612002]}`, `{"type": "LineString", "coordinates": [[-122.2, 47.6], [-122.3, 47.7]]}`, 1), "Point"},
		{"no api-version", "POST", "", routeBody, "api-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			if tt.version != "" {
				q.Set("api-version", tt.version)
			}
			status, _, body := liveCall(t, srv, tt.method, "/route/directions", q, tt.body)
			wantBadRequest(t, status, body, tt.want)
		})
	}
}

// manyWaypoints is a route body with n waypoints along a parallel.
func manyWaypoints(n int) string {
	features := make([]string, n)
	for i := range features {
		features[i] = fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Point","coordinates":[%f,47.6]},"properties":{"pointIndex":%d,"pointType":"waypoint"}}`, -122.3+float64(i)*0.001, i)
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
}

func TestRouteManyWaypointsAndItinerary(t *testing.T) {
	srv := startLive(t)
	body := manyWaypoints(150)
	body = body[:strings.LastIndex(body, "]}")] + `],"routeOutputOptions":["routeSummary","itinerary"],"travelMode":"truck","maxRouteCount":6}`
	status, _, raw := liveCall(t, srv, "POST", "/route/directions", url.Values{"api-version": {"2025-01-01"}}, body)
	var got routeAnswer
	if err := json.Unmarshal(raw, &got); err != nil || status != 200 || len(got.Features) != 1 {
		t.Fatalf("%d %.300s", status, raw)
	}
	p := got.Features[0].Properties
	if len(p.Legs) != 149 {
		t.Errorf("%d legs, want 149", len(p.Legs))
	}
	want := 149 * haversine(-122.3, 47.6, -122.299, 47.6)
	if math.Abs(p.DistanceInMeters-want) > 1 || math.Abs(p.DurationInSeconds-math.Round(want/(40/3.6))) > 1 {
		t.Errorf("%v m in %v s, want %.0f m at 40 km/h", p.DistanceInMeters, p.DurationInSeconds, want)
	}
}
