package emulator

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The Search versions that geocode; 2026-01-01 is the newest.
var searchVersions = []string{"2026-01-01", "2025-01-01", "2023-06-01"}

// place is a canned geocoding answer.
type place struct {
	names            []string // what a query may say, the first the display name
	kind             string   // the entity type the service reports
	lon, lat         float64
	addressLine      string
	locality         string
	postalCode       string
	adminDistrict    string // state or country part, short
	adminDistrict2   string // county
	countryRegion    string
	countryRegionISO string
	formatted        string
}

// cannedPlaces are the places the emulator can geocode. The first is the
// device code guide's sample fence centre.
var cannedPlaces = []place{
	{names: []string{"1 Microsoft Way, Redmond", "One Microsoft Way, Redmond", "Microsoft"}, kind: "Address",
		lon: -122.126986, lat: 47.639754, addressLine: "1 Microsoft Way", locality: "Redmond", postalCode: "98052",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "1 Microsoft Way, Redmond, WA 98052"},
	{names: []string{"Space Needle", "400 Broad St, Seattle"}, kind: "LandmarkBuilding",
		lon: -122.349309, lat: 47.620422, addressLine: "400 Broad St", locality: "Seattle", postalCode: "98109",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "400 Broad St, Seattle, WA 98109"},
	{names: []string{"Pike Place Market", "85 Pike St, Seattle"}, kind: "PointOfInterest",
		lon: -122.342148, lat: 47.609657, addressLine: "85 Pike St", locality: "Seattle", postalCode: "98101",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "85 Pike St, Seattle, WA 98101"},
	{names: []string{"Seattle", "Seattle, WA"}, kind: "PopulatedPlace",
		lon: -122.330062, lat: 47.603832, locality: "Seattle",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "Seattle, WA"},
	{names: []string{"Redmond", "Redmond, WA"}, kind: "PopulatedPlace",
		lon: -122.121513, lat: 47.673988, locality: "Redmond",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "Redmond, WA"},
	{names: []string{"Bellevue", "Bellevue, WA"}, kind: "PopulatedPlace",
		lon: -122.201516, lat: 47.610378, locality: "Bellevue",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "Bellevue, WA"},
	{names: []string{"Seattle-Tacoma International Airport", "SEA airport"}, kind: "Airport",
		lon: -122.308817, lat: 47.450249, addressLine: "17801 International Blvd", locality: "SeaTac", postalCode: "98158",
		adminDistrict: "WA", adminDistrict2: "King County", countryRegion: "United States", countryRegionISO: "US",
		formatted: "17801 International Blvd, SeaTac, WA 98158"},
	{names: []string{"London", "London, United Kingdom"}, kind: "PopulatedPlace",
		lon: -0.127647, lat: 51.507322, locality: "London",
		adminDistrict: "England", adminDistrict2: "Greater London", countryRegion: "United Kingdom", countryRegionISO: "GB",
		formatted: "London, United Kingdom"},
}

// normalize folds case and reduces punctuation and runs of spaces to one
// space, so "1 Microsoft Way,  Redmond" matches "1 microsoft way redmond".
func normalize(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	return strings.Join(f, " ")
}

// match rates how well a query names a place: 2 exactly, 1 as a prefix
// either way (a query may add a state or postcode), 0 not at all.
func (p place) match(query string) int {
	best := 0
	for _, n := range p.names {
		n = normalize(n)
		switch {
		case n == query:
			return 2
		case strings.HasPrefix(n, query), strings.HasPrefix(query, n+" "):
			best = 1
		}
	}
	return best
}

// geocode answers Get Geocoding from the canned places; an unknown place
// gets a FeatureCollection with no features, as the service answers.
func (s *Server) geocode(w http.ResponseWriter, r *http.Request, _ caller) {
	if !checkVersion(w, r, "Search geocoding", searchVersions...) {
		return
	}
	q := r.URL.Query()
	query := q.Get("query")
	var parts []string
	for _, k := range []string{"addressLine", "locality", "adminDistrict", "postalCode", "countryRegion"} {
		if v := q.Get(k); v != "" {
			parts = append(parts, v)
		}
	}
	switch {
	case query != "" && len(parts) > 0:
		badRequest(w, "query cannot be combined with addressLine, locality, adminDistrict, postalCode or countryRegion.")
		return
	case query == "" && len(parts) == 0:
		badRequest(w, "Either query or an address (addressLine, locality, adminDistrict, postalCode, countryRegion) is required.")
		return
	case query == "":
		query = strings.Join(parts, " ")
	}
	top, ok := intParam(w, q, "top", 1, 20, 5)
	if !ok {
		return
	}
	if v := q.Get("coordinates"); v != "" {
		if lon, lat, ok := parsePair(v); !ok || !validLonLat(lon, lat) {
			badRequest(w, "coordinates must be longitude,latitude.")
			return
		}
	}
	norm := normalize(query)
	type hit struct {
		p     place
		score int
	}
	var hits []hit
	for _, p := range cannedPlaces {
		if sc := p.match(norm); sc > 0 && norm != "" {
			hits = append(hits, hit{p, sc})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.score - a.score })
	// The answer pages by top, with a nextLink to the rest, as the
	// service's answer may carry one; "skip" in it is the emulator's own.
	skip, ok := intParam(w, q, "skip", 0, math.MaxInt, 0)
	if !ok {
		return
	}
	skip = min(skip, len(hits))
	features := []map[string]any{}
	for _, h := range hits[skip:min(len(hits), skip+top)] {
		confidence := "High"
		if h.score < 2 {
			confidence = "Medium"
		}
		features = append(features, h.p.feature(confidence))
	}
	answer := map[string]any{"type": "FeatureCollection", "features": features}
	if skip+top < len(hits) {
		next := url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path}
		nq := r.URL.Query()
		nq.Del("subscription-key")
		nq.Set("skip", strconv.Itoa(skip+top))
		next.RawQuery = nq.Encode()
		answer["nextLink"] = next.String()
	}
	writeGeoJSON(w, http.StatusOK, answer)
}

// reverseGeocode answers Get Reverse Geocoding with the canned place
// nearest the coordinates, wherever they are.
func (s *Server) reverseGeocode(w http.ResponseWriter, r *http.Request, _ caller) {
	if !checkVersion(w, r, "Search reverse geocoding", searchVersions...) {
		return
	}
	v := r.URL.Query().Get("coordinates")
	if v == "" {
		badRequest(w, "coordinates is required: longitude,latitude.")
		return
	}
	lon, lat, ok := parsePair(v)
	if !ok || !validLonLat(lon, lat) {
		badRequest(w, "coordinates %q must be longitude,latitude, longitude -180 to 180 and latitude -90 to 90.", v)
		return
	}
	nearest, best := cannedPlaces[0], math.Inf(1)
	for _, p := range cannedPlaces {
		if d := greatCircle(lon, lat, p.lon, p.lat); d < best {
			nearest, best = p, d
		}
	}
	writeGeoJSON(w, http.StatusOK, map[string]any{"type": "FeatureCollection", "features": []map[string]any{nearest.feature("Medium")}})
}

// feature is the place as a geocoding answer's feature.
func (p place) feature(confidence string) map[string]any {
	address := map[string]any{
		"formattedAddress": p.formatted,
		"locality":         p.locality,
		"countryRegion":    map[string]string{"name": p.countryRegion, "ISO": p.countryRegionISO},
		"adminDistricts":   []map[string]string{{"shortName": p.adminDistrict}, {"shortName": p.adminDistrict2}},
	}
	if p.addressLine != "" {
		address["addressLine"] = p.addressLine
		address["postalCode"] = p.postalCode
	}
	point := geoPoint{Type: "Point", Coordinates: []float64{p.lon, p.lat}}
	// About 500 m either way, as the service boxes an address.
	dlat := 0.0045
	dlon := dlat / math.Cos(p.lat*math.Pi/180)
	if p.kind == "PopulatedPlace" {
		dlat, dlon = dlat*20, dlon*20
	}
	return map[string]any{
		"type":     "Feature",
		"geometry": point,
		"bbox":     []float64{round6(p.lon - dlon), round6(p.lat - dlat), round6(p.lon + dlon), round6(p.lat + dlat)},
		"properties": map[string]any{
			"type":       p.kind,
			"confidence": confidence,
			"matchCodes": []string{"Good"},
			"address":    address,
			"geocodePoints": []map[string]any{{
				"geometry":          point,
				"calculationMethod": "Rooftop",
				"usageTypes":        []string{"Display", "Route"},
			}},
		},
	}
}
