package emulator_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// weatherAnswer is what a client reads of current conditions.
type weatherAnswer struct {
	Results []struct {
		DateTime    string `json:"dateTime"`
		Phrase      string `json:"phrase"`
		Temperature struct {
			Value float64 `json:"value"`
			Unit  string  `json:"unit"`
		} `json:"temperature"`
		Wind *struct {
			Speed struct {
				Unit string `json:"unit"`
			} `json:"speed"`
		} `json:"wind"`
	} `json:"results"`
}

func TestCurrentConditions(t *testing.T) {
	srv := startLive(t)
	tests := []struct {
		name             string
		q                url.Values
		wantUnit         string
		wantTemp         float64
		wantWind         string // "" when details=false leaves it out
		wantOffsetWinter int    // the zone's standard offset, in hours
	}{
		{"metric", url.Values{"query": {"47.641268,-122.125679"}}, "C", 12, "km/h", -8},
		{"imperial", url.Values{"query": {"47.641268,-122.125679"}, "unit": {"imperial"}}, "F", 53.6, "mi/h", -8},
		{"no details", url.Values{"query": {"51.5,-0.12"}, "details": {"false"}}, "C", 12, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Set("api-version", "1.1")
			status, _, body := liveCall(t, srv, "GET", "/weather/currentConditions/json", tt.q, "")
			var got weatherAnswer
			if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got.Results) != 1 {
				t.Fatalf("%d %s", status, body)
			}
			res := got.Results[0]
			if res.Temperature.Unit != tt.wantUnit || res.Temperature.Value != tt.wantTemp || res.Phrase == "" {
				t.Errorf("temperature %v %s (%q), want %v %s", res.Temperature.Value, res.Temperature.Unit, res.Phrase, tt.wantTemp, tt.wantUnit)
			}
			switch {
			case tt.wantWind == "" && res.Wind != nil:
				t.Errorf("details=false still has the wind")
			case tt.wantWind != "" && (res.Wind == nil || res.Wind.Speed.Unit != tt.wantWind):
				t.Errorf("wind %+v, want in %s", res.Wind, tt.wantWind)
			}
			when, err := time.Parse(time.RFC3339, res.DateTime)
			if err != nil || time.Since(when).Abs() > 2*time.Minute {
				t.Fatalf("dateTime %q is not now: %v", res.DateTime, err)
			}
			// Standard time, or an hour ahead of it in summer.
			if _, off := when.Zone(); off != tt.wantOffsetWinter*3600 && off != (tt.wantOffsetWinter+1)*3600 {
				t.Errorf("dateTime %q is not in the place's local time", res.DateTime)
			}
		})
	}
	for _, q := range []url.Values{
		{"api-version": {"1.1"}},
		{"api-version": {"1.0"}, "query": {"47.6,-122.1"}},
		{"api-version": {"1.1"}, "query": {"47.6,-122.1"}, "unit": {"kelvin"}},
	} {
		status, _, body := liveCall(t, srv, "GET", "/weather/currentConditions/json", q, "")
		wantBadRequest(t, status, body, "")
	}
}
