package emulator_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// timezoneAnswer is what a client reads of a Timezone answer.
type timezoneAnswer struct {
	Version               string
	ReferenceUtcTimestamp string
	TimeZones             []struct {
		ID    string `json:"Id"`
		Names struct {
			Standard, Daylight string
		}
		ReferenceTime struct {
			Tag             string
			StandardOffset  string
			DaylightSavings string
			WallTime        string
		}
		Countries []struct {
			Code string
		}
		TimeTransitions []struct {
			Tag              string
			StandardOffset   string
			DaylightSavings  string
			UtcStart, UtcEnd string
		}
	}
}

// seconds reads "-08:00:00" or "05:30:00".
func seconds(t *testing.T, s string) int {
	t.Helper()
	sign := 1
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		sign, s = -1, rest
	}
	d, err := time.ParseDuration(strings.Replace(strings.Replace(s, ":", "h", 1), ":", "m", 1) + "s")
	if err != nil {
		t.Fatalf("offset %q: %v", s, err)
	}
	return sign * int(d.Seconds())
}

func TestTimezoneByCoordinates(t *testing.T) {
	srv := startLive(t)
	tests := []struct {
		name, query, timeStamp string
		wantID                 string
		wantStd                string
		wantDST                string // "" when the host's zone data decides
	}{
		{"the guide's fence in winter", "47.639754,-122.126986", "2026-01-15T12:00:00Z", "America/Los_Angeles", "-08:00:00", "00:00:00"},
		{"the guide's fence now", "47.639754,-122.126986", "", "America/Los_Angeles", "-08:00:00", ""},
		{"London in July", "51.5,-0.12", "2026-07-01T12:00:00Z", "Europe/London", "00:00:00", ""},
		{"Kolkata", "22.57,88.36", "", "Asia/Kolkata", "05:30:00", "00:00:00"},
		{"Sydney in January", "-33.87,151.21", "2026-01-15T00:00:00Z", "Australia/Sydney", "10:00:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"api-version": {"1.0"}, "query": {tt.query}, "options": {"all"}}
			if tt.timeStamp != "" {
				q.Set("timeStamp", tt.timeStamp)
			}
			status, _, body := liveCall(t, srv, "GET", "/timezone/byCoordinates/json", q, "")
			var got timezoneAnswer
			if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got.TimeZones) != 1 {
				t.Fatalf("%d %s", status, body)
			}
			z := got.TimeZones[0]
			if z.ID != tt.wantID || z.ReferenceTime.StandardOffset != tt.wantStd || z.Names.Standard == "" || got.Version == "" {
				t.Errorf("zone %s standard %s (%q), version %q; want %s %s", z.ID, z.ReferenceTime.StandardOffset, z.Names.Standard, got.Version, tt.wantID, tt.wantStd)
			}
			if tt.wantDST != "" && z.ReferenceTime.DaylightSavings != tt.wantDST {
				t.Errorf("daylight saving %s, want %s", z.ReferenceTime.DaylightSavings, tt.wantDST)
			}
			ref, err := time.Parse(time.RFC3339Nano, got.ReferenceUtcTimestamp)
			if err != nil {
				t.Fatalf("ReferenceUtcTimestamp: %v", err)
			}
			if tt.timeStamp == "" && time.Since(ref).Abs() > time.Minute {
				t.Errorf("reference time %s is not now", ref)
			}
			wall, err := time.Parse(time.RFC3339Nano, z.ReferenceTime.WallTime)
			if err != nil {
				t.Fatalf("WallTime: %v", err)
			}
			_, off := wall.Zone()
			if want := seconds(t, z.ReferenceTime.StandardOffset) + seconds(t, z.ReferenceTime.DaylightSavings); off != want || !wall.Equal(ref) {
				t.Errorf("wall time %s (offset %d s) for %s, want the reference time at offset %d s", wall, off, ref, want)
			}
			if len(z.Countries) != 1 || len(z.TimeTransitions) == 0 {
				t.Errorf("options=all: countries %v, %d transitions", z.Countries, len(z.TimeTransitions))
			}
		})
	}
}

func TestTimezoneTransitions(t *testing.T) {
	srv := startLive(t)
	q := url.Values{"api-version": {"1.0"}, "query": {"47.6,-122.1"}, "options": {"transitions"},
		"timeStamp": {"2026-01-01T00:00:00Z"}, "transitionsYears": {"1"}}
	status, _, body := liveCall(t, srv, "GET", "/timezone/byCoordinates/json", q, "")
	var got timezoneAnswer
	if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got.TimeZones) != 1 {
		t.Fatalf("%d %s", status, body)
	}
	var starts []string
	for _, tr := range got.TimeZones[0].TimeTransitions {
		starts = append(starts, tr.Tag+" "+tr.UtcStart)
	}
	// US daylight saving in 2026: 8 March 10:00 UTC to 1 November 09:00 UTC.
	want := []string{"PST 2026-01-01T00:00:00Z", "PDT 2026-03-08T10:00:00Z", "PST 2026-11-01T09:00:00Z"}
	if _, err := time.LoadLocation("America/Los_Angeles"); err != nil {
		// A host without zone data: standard time all year, as documented.
		want = want[:1]
	}
	if strings.Join(starts, ", ") != strings.Join(want, ", ") {
		t.Errorf("transitions %v, want %v", starts, want)
	}
}

func TestTimezoneBadRequests(t *testing.T) {
	srv := startLive(t)
	tests := []struct {
		name, path string
		q          url.Values
		want       string
	}{
		{"no query", "/timezone/byCoordinates/json", url.Values{"api-version": {"1.0"}}, "latitude,longitude"},
		{"latitude 123", "/timezone/byCoordinates/json", url.Values{"api-version": {"1.0"}, "query": {"123,47"}}, "latitude,longitude"},
		{"xml", "/timezone/byCoordinates/xml", url.Values{"api-version": {"1.0"}, "query": {"47,-122"}}, "json"},
		{"unknown version", "/timezone/byCoordinates/json", url.Values{"api-version": {"2.0"}, "query": {"47,-122"}}, `api-version "2.0"`},
		{"bad options", "/timezone/byCoordinates/json", url.Values{"api-version": {"1.0"}, "query": {"47,-122"}, "options": {"some"}}, "options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := liveCall(t, srv, "GET", tt.path, tt.q, "")
			wantBadRequest(t, status, body, tt.want)
		})
	}
}
