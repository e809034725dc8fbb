package emulator

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The live Azure Maps APIs the emulator answers with canned data.
const (
	EndpointRoute    Endpoint = "route"
	EndpointSearch   Endpoint = "search"
	EndpointTimezone Endpoint = "timezone"
	EndpointRender   Endpoint = "render"
	EndpointWeather  Endpoint = "weather"
)

// isMaps says whether an endpoint answers as Azure Maps, so that
// injected faults take Maps' error shape.
func (e Endpoint) isMaps() bool {
	switch e {
	case EndpointMapData, EndpointGeofence, EndpointMapsAPI,
		EndpointRoute, EndpointSearch, EndpointTimezone, EndpointRender, EndpointWeather:
		return true
	}
	return false
}

// sphereRadius is the radius of the sphere the Maps side measures on,
// the geofence package's (WGS84's equatorial radius).
const sphereRadius = 6378137.0

// greatCircle is the distance in metres between two points in degrees.
func greatCircle(lon1, lat1, lon2, lat2 float64) float64 {
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * sphereRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

// badRequest answers 400 in the shape Azure Maps uses for a bad parameter.
func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeMapsError(w, http.StatusBadRequest, "400 BadRequest", fmt.Sprintf(format, args...))
}

// queryParams is a request's parameters: url.Values, or params where the
// service takes names in any case.
type queryParams interface{ Get(name string) string }

// intParam reads a whole-number parameter from lo to hi (no upper bound
// when hi is math.MaxInt), def when it is absent; not ok, with the 400
// written, when it is not one.
func intParam(w http.ResponseWriter, q queryParams, name string, lo, hi, def int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	switch {
	case err == nil && n >= lo && n <= hi:
		return n, true
	case hi == math.MaxInt:
		badRequest(w, "%s must be a whole number, %d or more.", name, lo)
	default:
		badRequest(w, "%s must be a whole number from %d to %d.", name, lo, hi)
	}
	return 0, false
}

// timeParam reads an RFC 3339 parameter, def when it is absent; not ok,
// with the 400 written, when it is not one.
func timeParam(w http.ResponseWriter, q queryParams, name string, def time.Time) (time.Time, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		badRequest(w, "%s %q is not an ISO 8601 date and time.", name, v)
		return time.Time{}, false
	}
	return t.UTC(), true
}

// checkVersion answers 400 unless api-version is one of the service's.
func checkVersion(w http.ResponseWriter, r *http.Request, service string, versions ...string) bool {
	v := r.URL.Query().Get("api-version")
	if slices.Contains(versions, v) {
		return true
	}
	if v == "" {
		badRequest(w, "The api-version query parameter is missing: %s takes %s.", service, strings.Join(versions, " or "))
		return false
	}
	badRequest(w, "The api-version %q is not supported by %s: it takes %s.", v, service, strings.Join(versions, " or "))
	return false
}

// parsePair reads "a,b" as two numbers.
func parsePair(s string) (a, b float64, ok bool) {
	x, y, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.ParseFloat(strings.TrimSpace(x), 64)
	b, err2 := strconv.ParseFloat(strings.TrimSpace(y), 64)
	return a, b, err1 == nil && err2 == nil && finite(a) && finite(b)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func validLonLat(lon, lat float64) bool {
	return lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90
}

// retiredRender answers a Render 1.0 request as the Data service answers
// a version it no longer takes.
func (s *Server) retiredRender(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.URL.Query().Get("api-version") != "1.0" {
		s.notEmulated(w, r, caller{})
		return
	}
	badRequest(w, "The api-version \"1.0\" of the Render service is retired: %s is no longer answered; static images are GET /map/static with api-version 2024-04-01.", r.URL.Path)
}

// byCoordinates reads what the Timezone and Weather calls by coordinates
// share: the json format, the api-version and query=lat,lon, of which
// the canned answers use the longitude. When it says no, the 400 has
// been written.
func byCoordinates(w http.ResponseWriter, r *http.Request, service, version string) (q params, lon float64, ok bool) {
	if r.PathValue("format") != "json" {
		badRequest(w, "The format %q is not supported: %s takes json.", r.PathValue("format"), service)
		return nil, 0, false
	}
	if !checkVersion(w, r, service, version) {
		return nil, 0, false
	}
	q = params(r.URL.Query())
	lat, lon, ok := parsePair(q.Get("query"))
	if !ok || !validLonLat(lon, lat) {
		badRequest(w, "query %q must be latitude,longitude, latitude -90 to 90 and longitude -180 to 180.", q.Get("query"))
		return nil, 0, false
	}
	return q, lon, true
}
