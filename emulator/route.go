package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"sort"
	"time"
)

const routeVersion = "2025-01-01"

// The fixed speeds canned routes are driven at, in metres per second.
var routeSpeeds = map[string]float64{
	"driving": 50 / 3.6,
	"truck":   40 / 3.6,
	"walking": 5 / 3.6,
}

// Route Directions limits, as documented.
const (
	maxWaypoints    = 150
	maxViaWaypoints = 10 // between two waypoints
	maxRouteBody    = 1 << 20
)

// routeRequest is the part of a Route Directions body the emulator reads.
type routeRequest struct {
	Type     string `json:"type"`
	Features []struct {
		Type     string `json:"type"`
		Geometry struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
		Properties struct {
			PointIndex *int   `json:"pointIndex"`
			PointType  string `json:"pointType"`
		} `json:"properties"`
	} `json:"features"`
	TravelMode         string   `json:"travelMode"`
	RouteOutputOptions []string `json:"routeOutputOptions"`
	DepartAt           string   `json:"departAt"`
	MaxRouteCount      *int     `json:"maxRouteCount"`
}

// routePoint is a checked input point.
type routePoint struct {
	index    int
	lon, lat float64
	via      bool
}

// routeDirections answers Route Directions 2025-01-01 with a path along
// the great circles between the points, driven at a fixed speed.
// jsonMediaType says whether a Content-Type is JSON or GeoJSON.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/geo+json")
}

func (s *Server) routeDirections(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.Method != http.MethodPost {
		badRequest(w, "Route Directions %s takes POST with a GeoJSON body, not %s.", routeVersion, r.Method)
		return
	}
	if !checkVersion(w, r, "Route Directions", routeVersion) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !jsonMediaType(ct) {
		writeMapsError(w, http.StatusUnsupportedMediaType, "415 UnsupportedMediaType",
			fmt.Sprintf("Route Directions takes application/json or application/geo+json, not %q.", r.Header.Get("Content-Type")))
		return
	}
	req, points, ok := readRouteRequest(w, r)
	if !ok {
		return
	}
	mode := req.TravelMode
	if mode == "" {
		mode = "driving"
	}
	outputs := req.RouteOutputOptions
	if len(outputs) == 0 {
		outputs = []string{"routeSummary"}
	}
	depart := time.Now().UTC().Truncate(time.Second)
	if req.DepartAt != "" {
		t, err := time.Parse(time.RFC3339, req.DepartAt)
		if err != nil {
			badRequest(w, "departAt %q is not an RFC 3339 time.", req.DepartAt)
			return
		}
		depart = t
	}
	writeGeoJSON(w, http.StatusOK, cannedRoute(points, routeSpeeds[mode], depart, slices.Contains(outputs, "routePath")))
}

// readRouteRequest decodes and checks the body, answering 400 when it is
// not a route request the service would take.
func readRouteRequest(w http.ResponseWriter, r *http.Request) (routeRequest, []routePoint, bool) {
	var req routeRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRouteBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		badRequest(w, "The request body is larger than %d bytes.", maxRouteBody)
		return req, nil, false
	case err != nil:
		badRequest(w, "The request body could not be read.")
		return req, nil, false
	case len(body) == 0:
		badRequest(w, "The request body is missing: Route Directions takes a GeoJSON FeatureCollection of waypoints.")
		return req, nil, false
	}
	if err := json.Unmarshal(body, &req); err != nil {
		badRequest(w, "The request body is not valid JSON: %v.", err)
		return req, nil, false
	}
	if req.Type != "FeatureCollection" {
		badRequest(w, "The request body must be a GeoJSON FeatureCollection, not type %q.", req.Type)
		return req, nil, false
	}
	if _, ok := routeSpeeds[req.TravelMode]; !ok && req.TravelMode != "" {
		badRequest(w, "travelMode %q is not one of driving, truck and walking.", req.TravelMode)
		return req, nil, false
	}
	for _, o := range req.RouteOutputOptions {
		if o != "routeSummary" && o != "routePath" && o != "itinerary" {
			badRequest(w, "routeOutputOptions %q is not one of routeSummary, routePath and itinerary.", o)
			return req, nil, false
		}
	}
	if req.MaxRouteCount != nil && (*req.MaxRouteCount < 1 || *req.MaxRouteCount > 6) {
		badRequest(w, "maxRouteCount must be 1 to 6.")
		return req, nil, false
	}
	points := make([]routePoint, 0, len(req.Features))
	seen := map[int]bool{}
	for i, f := range req.Features {
		var c []float64
		if f.Type != "Feature" || f.Geometry.Type != "Point" || json.Unmarshal(f.Geometry.Coordinates, &c) != nil || len(c) < 2 || len(c) > 3 {
			badRequest(w, "features[%d] must be a Feature with a Point geometry.", i)
			return req, nil, false
		}
		if !validLonLat(c[0], c[1]) {
			badRequest(w, "features[%d] has coordinates [%g, %g]: longitude comes first, -180 to 180, then latitude, -90 to 90.", i, c[0], c[1])
			return req, nil, false
		}
		p := f.Properties
		if p.PointIndex == nil || *p.PointIndex < 0 || seen[*p.PointIndex] {
			badRequest(w, "features[%d] needs properties.pointIndex, a number no other feature has.", i)
			return req, nil, false
		}
		seen[*p.PointIndex] = true
		if p.PointType != "waypoint" && p.PointType != "viaWaypoint" {
			badRequest(w, "features[%d] has pointType %q: it must be waypoint or viaWaypoint.", i, p.PointType)
			return req, nil, false
		}
		points = append(points, routePoint{index: *p.PointIndex, lon: c[0], lat: c[1], via: p.PointType == "viaWaypoint"})
	}
	sort.Slice(points, func(i, j int) bool { return points[i].index < points[j].index })
	waypoints, via := 0, 0
	for _, p := range points {
		if !p.via {
			waypoints++
			via = 0
			continue
		}
		if via++; via > maxViaWaypoints {
			badRequest(w, "At most %d viaWaypoints may come between two waypoints.", maxViaWaypoints)
			return req, nil, false
		}
	}
	switch {
	case waypoints < 2:
		badRequest(w, "A route needs at least 2 waypoints; the body has %d.", waypoints)
		return req, nil, false
	case waypoints > maxWaypoints:
		badRequest(w, "A route takes at most %d waypoints; the body has %d.", maxWaypoints, waypoints)
		return req, nil, false
	case points[0].via || points[len(points)-1].via:
		badRequest(w, "A route must begin and end with a waypoint, not a viaWaypoint.")
		return req, nil, false
	}
	return req, points, true
}

// The answer's GeoJSON, in the service's shape.
type (
	geoPoint struct {
		Type        string    `json:"type"`
		Coordinates []float64 `json:"coordinates"`
	}
	routeFeature struct {
		Type       string    `json:"type"`
		BBox       []float64 `json:"bbox,omitempty"`
		Geometry   any       `json:"geometry"`
		Properties any       `json:"properties"`
	}
	routeWaypoint struct {
		Type  string `json:"type"`
		Order struct {
			InputIndex int `json:"inputIndex"`
		} `json:"order"`
		RoutePathPoint struct {
			LegIndex   int `json:"legIndex"`
			PointIndex int `json:"pointIndex"`
		} `json:"routePathPoint"`
	}
	routeTimes struct {
		ArrivalAt                string `json:"arrivalAt"`
		DepartureAt              string `json:"departureAt"`
		DistanceInMeters         int64  `json:"distanceInMeters"`
		DurationInSeconds        int64  `json:"durationInSeconds"`
		DurationTrafficInSeconds int64  `json:"durationTrafficInSeconds"`
	}
	routeLeg struct {
		routeTimes
		RoutePathRange struct {
			LegIndex int    `json:"legIndex"`
			Range    [2]int `json:"range"`
		} `json:"routePathRange"`
	}
	routePathProps struct {
		Type string `json:"type"`
		routeTimes
		Legs              []routeLeg `json:"legs"`
		TrafficCongestion string     `json:"trafficCongestion"`
	}
)

// cannedRoute follows the great circle between each pair of points,
// with a vertex about every kilometre, at a fixed speed.
func cannedRoute(points []routePoint, speed float64, depart time.Time, withPath bool) map[string]any {
	var (
		path      [][]float64
		legs      []routeLeg
		waypoints []routeFeature
		total     float64
		legStart  = 0
		legLength float64
		clock     = depart
	)
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }
	addWaypoint := func(p routePoint) {
		var wp routeWaypoint
		wp.Type = "Waypoint"
		wp.Order.InputIndex = p.index
		// The first waypoint begins leg 0; the others end the leg just made.
		wp.RoutePathPoint.LegIndex = max(len(legs)-1, 0)
		wp.RoutePathPoint.PointIndex = len(path) - 1
		waypoints = append(waypoints, routeFeature{
			Type:       "Feature",
			Geometry:   geoPoint{Type: "Point", Coordinates: []float64{p.lon, p.lat}},
			Properties: wp,
		})
	}
	path = append(path, []float64{round6(points[0].lon), round6(points[0].lat)})
	addWaypoint(points[0])
	for i := 1; i < len(points); i++ {
		a, b := points[i-1], points[i]
		d := greatCircle(a.lon, a.lat, b.lon, b.lat)
		steps := max(1, min(100, int(math.Ceil(d/1000))))
		for k := 1; k <= steps; k++ {
			lon, lat := alongGreatCircle(a, b, float64(k)/float64(steps))
			path = append(path, []float64{round6(lon), round6(lat)})
		}
		total += d
		legLength += d
		if b.via {
			continue
		}
		// Rounding the time at each waypoint, not each leg's, keeps the
		// route's time that of its whole length.
		arrive := depart.Add(time.Duration(math.Round(total/speed)) * time.Second)
		secs := int64(arrive.Sub(clock) / time.Second)
		var leg routeLeg
		leg.routeTimes = routeTimes{stamp(arrive), stamp(clock), int64(math.Round(legLength)), secs, secs}
		leg.RoutePathRange.LegIndex = len(legs)
		leg.RoutePathRange.Range = [2]int{legStart, len(path) - 1}
		legs = append(legs, leg)
		addWaypoint(b)
		legStart, legLength, clock = len(path)-1, 0, arrive
	}
	// The legs' times add up to the route's, as in the service's answers.
	secs := int64(clock.Sub(depart) / time.Second)
	props := routePathProps{
		Type:              "RoutePath",
		routeTimes:        routeTimes{stamp(clock), stamp(depart), int64(math.Round(total)), secs, secs},
		Legs:              legs,
		TrafficCongestion: "None",
	}
	routePath := routeFeature{Type: "Feature", Properties: props}
	features := []routeFeature{}
	if withPath {
		routePath.BBox = pathBBox(path)
		routePath.Geometry = map[string]any{"type": "MultiLineString", "coordinates": [][][]float64{path}}
		features = append(features, waypoints...)
	} else {
		routePath.Geometry = map[string]any{"type": "MultiLineString", "coordinates": [][][]float64{}}
	}
	features = append(features, routePath)
	return map[string]any{"type": "FeatureCollection", "features": features}
}

// alongGreatCircle is the point a fraction f of the way from a to b.
func alongGreatCircle(a, b routePoint, f float64) (lon, lat float64) {
	rad := math.Pi / 180
	d := greatCircle(a.lon, a.lat, b.lon, b.lat) / sphereRadius
	if math.Sin(d) < 1e-9 {
		// The same point, or antipodes, where every great circle joins
		// them: go straight in degrees.
		return a.lon + f*(b.lon-a.lon), a.lat + f*(b.lat-a.lat)
	}
	sa, sb := math.Sin((1-f)*d)/math.Sin(d), math.Sin(f*d)/math.Sin(d)
	φ1, λ1, φ2, λ2 := a.lat*rad, a.lon*rad, b.lat*rad, b.lon*rad
	x := sa*math.Cos(φ1)*math.Cos(λ1) + sb*math.Cos(φ2)*math.Cos(λ2)
	y := sa*math.Cos(φ1)*math.Sin(λ1) + sb*math.Cos(φ2)*math.Sin(λ2)
	z := sa*math.Sin(φ1) + sb*math.Sin(φ2)
	return math.Atan2(y, x) / rad, math.Atan2(z, math.Hypot(x, y)) / rad
}

func pathBBox(path [][]float64) []float64 {
	b := []float64{path[0][0], path[0][1], path[0][0], path[0][1]}
	for _, p := range path[1:] {
		b[0], b[1] = min(b[0], p[0]), min(b[1], p[1])
		b[2], b[3] = max(b[2], p[0]), max(b[3], p[1])
	}
	return b
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// writeGeoJSON answers as the services that speak GeoJSON do.
func writeGeoJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
