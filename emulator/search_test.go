package emulator_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// geocodeAnswer is what a client reads of a geocoding answer.
type geocodeAnswer struct {
	Type     string `json:"type"`
	Features []struct {
		Geometry struct {
			Type        string     `json:"type"`
			Coordinates [2]float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties struct {
			Type       string `json:"type"`
			Confidence string `json:"confidence"`
			Address    struct {
				FormattedAddress string `json:"formattedAddress"`
				Locality         string `json:"locality"`
			} `json:"address"`
		} `json:"properties"`
	} `json:"features"`
}

func TestGeocode(t *testing.T) {
	srv := startLive(t)
	tests := []struct {
		name, version, query string
		wantLon, wantLat     float64
		wantAddress          string
	}{
		{"the guide's address", "2026-01-01", "1 Microsoft Way, Redmond, WA 98052", -122.126986, 47.639754, "1 Microsoft Way, Redmond, WA 98052"},
		{"any case", "2026-01-01", "SPACE NEEDLE", -122.349309, 47.620422, "400 Broad St, Seattle, WA 98109"},
		{"a city, 2025-01-01", "2025-01-01", "seattle", -122.330062, 47.603832, "Seattle, WA"},
		{"a prefix of the name", "2026-01-01", "pike pl", -122.342148, 47.609657, "85 Pike St, Seattle, WA 98101"},
		{"not a place", "2026-01-01", "pike street fish", 0, 0, ""},
		{"London", "2026-01-01", "London", -0.127647, 51.507322, "London, United Kingdom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := liveCall(t, srv, "GET", "/geocode", url.Values{"api-version": {tt.version}, "query": {tt.query}}, "")
			var got geocodeAnswer
			if err := json.Unmarshal(body, &got); err != nil || status != 200 || got.Type != "FeatureCollection" {
				t.Fatalf("%d %s", status, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/geo+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.wantAddress == "" {
				if len(got.Features) != 0 {
					t.Errorf("%q found %d places, want none", tt.query, len(got.Features))
				}
				return
			}
			if len(got.Features) == 0 {
				t.Fatalf("%q found nothing", tt.query)
			}
			f := got.Features[0]
			if c := f.Geometry.Coordinates; f.Geometry.Type != "Point" || c[0] != tt.wantLon || c[1] != tt.wantLat {
				t.Errorf("%q is at %v, want [%v, %v]", tt.query, c, tt.wantLon, tt.wantLat)
			}
			if a := f.Properties.Address.FormattedAddress; a != tt.wantAddress {
				t.Errorf("%q is %q, want %q", tt.query, a, tt.wantAddress)
			}
		})
	}
}

func TestGeocodeUnknownPlaceAndTop(t *testing.T) {
	srv := startLive(t)
	status, _, body := liveCall(t, srv, "GET", "/geocode", url.Values{"api-version": {"2026-01-01"}, "query": {"Atlantis"}}, "")
	if status != 200 || strings.TrimSpace(string(body)) != `{"features":[],"type":"FeatureCollection"}` {
		t.Errorf("an unknown place: %d %s, want an empty FeatureCollection", status, body)
	}
	// "Seattle" names the city exactly and begins the airport's name.
	status, _, body = liveCall(t, srv, "GET", "/geocode", url.Values{"api-version": {"2026-01-01"}, "query": {"Seattle"}}, "")
	var all geocodeAnswer
	if err := json.Unmarshal(body, &all); err != nil || status != 200 || len(all.Features) != 2 {
		t.Fatalf("%d %s, want the city and the airport", status, body)
	}
	if p := all.Features[0].Properties; p.Type != "PopulatedPlace" || p.Confidence != "High" {
		t.Errorf("first answer %s %s, want the exact match first", p.Type, p.Confidence)
	}
	status, _, body = liveCall(t, srv, "GET", "/geocode", url.Values{"api-version": {"2026-01-01"}, "query": {"Seattle"}, "top": {"1"}}, "")
	var top geocodeAnswer
	if err := json.Unmarshal(body, &top); err != nil || status != 200 || len(top.Features) != 1 {
		t.Errorf("top=1: %d %s", status, body)
	}
	status, _, body = liveCall(t, srv, "GET", "/geocode", url.Values{"api-version": {"2026-01-01"}, "addressLine": {"1 Microsoft Way"}, "locality": {"Redmond"}}, "")
	var structured geocodeAnswer
	if err := json.Unmarshal(body, &structured); err != nil || status != 200 || len(structured.Features) == 0 ||
		structured.Features[0].Geometry.Coordinates != [2]float64{-122.126986, 47.639754} {
		t.Errorf("addressLine and locality: %d %s", status, body)
	}
}

func TestReverseGeocode(t *testing.T) {
	srv := startLive(t)
	// A few hundred metres from the Space Needle.
	status, _, body := liveCall(t, srv, "GET", "/reverseGeocode", url.Values{"api-version": {"2026-01-01"}, "coordinates": {"-122.3470,47.6215"}}, "")
	var got geocodeAnswer
	if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got.Features) != 1 {
		t.Fatalf("%d %s", status, body)
	}
	if a := got.Features[0].Properties.Address.FormattedAddress; a != "400 Broad St, Seattle, WA 98109" {
		t.Errorf("nearest place %q, want the Space Needle's address", a)
	}
}

func TestSearchBadRequests(t *testing.T) {
	srv := startLive(t)
	tests := []struct {
		name, path string
		q          url.Values
		want       string
	}{
		{"no query", "/geocode", url.Values{"api-version": {"2026-01-01"}}, "query"},
		{"query and address", "/geocode", url.Values{"api-version": {"2026-01-01"}, "query": {"Seattle"}, "locality": {"Seattle"}}, "cannot be combined"},
		{"top 21", "/geocode", url.Values{"api-version": {"2026-01-01"}, "query": {"Seattle"}, "top": {"21"}}, "top"},
		{"Search 1.0", "/geocode", url.Values{"api-version": {"1.0"}, "query": {"Seattle"}}, `api-version "1.0"`},
		{"no coordinates", "/reverseGeocode", url.Values{"api-version": {"2026-01-01"}}, "coordinates"},
		{"latitude out of range", "/reverseGeocode", url.Values{"api-version": {"2026-01-01"}, "coordinates": {"47.6,-122.3"}}, "longitude,latitude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := liveCall(t, srv, "GET", tt.path, tt.q, "")
			wantBadRequest(t, status, body, tt.want)
		})
	}
}
