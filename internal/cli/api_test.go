package cli_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/cli"
)

// routeJSON asks for a route from the guide's fence centre to the Space
// Needle, longitude first, as Route 2025-01-01 takes it.
const routeJSON = `{"type":"FeatureCollection","travelMode":"driving","routeOutputOptions":["routePath"],"features":[
 {"type":"Feature","properties":{"pointIndex":0,"pointType":"waypoint"},"geometry":{"type":"Point","coordinates":[-122.126986,47.639754]}},
 {"type":"Feature","properties":{"pointIndex":1,"pointType":"waypoint"},"geometry":{"type":"Point","coordinates":[-122.349309,47.620422]}}]}`

// greatCircle is the distance in metres between two lat/lon points on the
// sphere Azure Maps uses.
func greatCircle(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6378137
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

// routeDistance reads the route path's distance from a Route answer.
func routeDistance(t *testing.T, answer string) float64 {
	t.Helper()
	var fc struct {
		Features []struct {
			Properties struct {
				Type             string  `json:"type"`
				DistanceInMeters float64 `json:"distanceInMeters"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal([]byte(answer), &fc); err != nil {
		t.Fatalf("the answer is not GeoJSON: %v: %s", err, answer)
	}
	for _, f := range fc.Features {
		if f.Properties.Type == "RoutePath" {
			return f.Properties.DistanceInMeters
		}
	}
	t.Fatalf("no RoutePath feature in %s", answer)
	return 0
}

// TestAPILiveAPIs calls today's Azure Maps APIs through 'mapsdevice api'
// against the emulator's canned answers, as the README's examples do.
func TestAPILiveAPIs(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	route := writeFile(t, e.home, "route.json", routeJSON)
	want := greatCircle(47.639754, -122.126986, 47.620422, -122.349309)

	t.Run("route from a file", func(t *testing.T) {
		out, errOut, code := e.run("api", "/route/directions", "--query", "api-version=2025-01-01", "-X", "POST", "--data", "@"+route)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if got := routeDistance(t, out); math.Abs(got-want) > want*0.01 {
			t.Errorf("route distance %.0f m, want the great-circle %.0f m within 1%%", got, want)
		}
	})
	t.Run("route from stdin, POST implied", func(t *testing.T) {
		cmd := e.command(t.Context(), "api", "/route/directions", "--query", "api-version=2025-01-01", "--data", "-")
		cmd.Stdin = strings.NewReader(routeJSON)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v", err)
		}
		if got := routeDistance(t, string(out)); math.Abs(got-want) > want*0.01 {
			t.Errorf("route distance %.0f m, want %.0f m", got, want)
		}
	})
	t.Run("a header is sent", func(t *testing.T) {
		// The emulator refuses a body that is not JSON, as the service does.
		_, errOut, code := e.run("api", "/route/directions", "--query", "api-version=2025-01-01", "--data", "@"+route, "--header", "Content-Type: text/plain")
		if code != 1 || !strings.Contains(errOut, "415") {
			t.Errorf("exit %d %q; want 1 naming the 415 the header caused", code, errOut)
		}
	})
	t.Run("geocoding, every page", func(t *testing.T) {
		args := []string{"api", "/geocode", "--query", "api-version=2026-01-01", "--query", "query=Se", "--query", "top=1"}
		one, errOut, code := e.run(args...)
		if code != 0 || !strings.Contains(one, `"nextLink"`) {
			t.Fatalf("without --paginate: exit %d, %s %s; want one page with a nextLink", code, one, errOut)
		}
		all, errOut, code := e.run(append(args, "--paginate")...)
		if code != 0 {
			t.Fatalf("--paginate: exit %d: %s", code, errOut)
		}
		var names []string
		dec := json.NewDecoder(strings.NewReader(all))
		pages := 0
		for {
			var page struct {
				Features []struct {
					Properties struct {
						Address struct {
							FormattedAddress string `json:"formattedAddress"`
						} `json:"address"`
					} `json:"properties"`
				} `json:"features"`
			}
			if err := dec.Decode(&page); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("page %d is not JSON: %v\n%s", pages+1, err, all)
			}
			pages++
			for _, f := range page.Features {
				names = append(names, f.Properties.Address.FormattedAddress)
			}
		}
		if pages != 2 || len(names) != 2 || names[0] == names[1] {
			t.Errorf("%d pages with %q; want 2 pages of one place each, Seattle and the airport", pages, names)
		}
	})
	t.Run("time zone", func(t *testing.T) {
		out, errOut, code := e.run("api", "/timezone/byCoordinates/json", "--query", "api-version=1.0", "--query", "query=47.6397,-122.1270")
		if code != 0 || !strings.Contains(out, `"America/Los_Angeles"`) {
			t.Errorf("exit %d: %s %s; want the zone of Redmond", code, out, errOut)
		}
	})
	t.Run("a static map into a file", func(t *testing.T) {
		out, errOut, code := e.run("api", "/map/static", "--query", "api-version=2024-04-01", "--query", "tilesetId=microsoft.base.road",
			"--query", "zoom=12", "--query", "center=-122.127,47.640", "--query", "width=320", "--query", "height=240")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		img, err := png.Decode(bytes.NewReader([]byte(out)))
		if err != nil || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
			t.Errorf("stdout is not a 320×240 PNG: %v", err)
		}
	})
}

// TestAPIUsage: what 'api' refuses before sending anything.
func TestAPIUsage(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := newEnv(t, vars...).with("MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint(), "MAPSDEVICE_MAPS_CLIENT_ID="+srv.MapsClientID())
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--header", "Authorization: Bearer stolen"}, "the sign-in sets it"},
		{[]string{"--header", "x-ms-client-id: other"}, "the sign-in sets it"},
		{[]string{"--header", "no colon"}, `use "Name: value"`},
		{[]string{"--paginate", "-X", "POST"}, "--paginate follows nextLink with GET"},
		{[]string{"--paginate", "--data", "{}"}, "--paginate follows nextLink with GET"},
		{[]string{"-X", "P0ST"}, "use an HTTP method"},
	}
	for _, tt := range tests {
		args := append([]string{"api", "/geocode", "--json"}, tt.args...)
		out, errOut, code := e.run(args...)
		if code != 64 || !strings.Contains(errOut, tt.want) || !strings.Contains(out, `"code":"usage"`) {
			t.Errorf("%v: exit %d %q %q; want 64 saying %q and a usage event", tt.args, code, errOut, out, tt.want)
		}
	}
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointSearch {
			t.Errorf("a refused call reached the service: %s", r.Path)
		}
	}
}

// TestAPIInProcess: the same calls from within the process, where a
// script's exit code and stdout are what it sees.
func TestAPIInProcess(t *testing.T) {
	hermetic(t)
	srv := emulatortest.Start(t, emulator.Options{AutoApprove: 100 * time.Millisecond, MapsRate: -1})
	signInEnv(t, srv)
	if r := runMain(t, "login"); r.code != 0 {
		t.Fatalf("login: exit %d: %s", r.code, r.err)
	}
	r := runMain(t, "api", "/geocode", "--query", "api-version=2026-01-01", "--query", "query=Se", "--query", "top=1", "--paginate",
		"--header", "Accept-Language: en-US")
	if r.code != 0 || strings.Count(r.out, `"FeatureCollection"`) != 2 {
		t.Errorf("--paginate: exit %d, %q; want two pages", r.code, r.out)
	}
	// An image is not written to a terminal.
	var out, errb bytes.Buffer
	code := cli.Main(t.Context(), []string{"api", "/map/static", "--query", "api-version=2024-04-01", "--query", "center=-122.127,47.640"},
		cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb, OutTerminal: true})
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "send it to a file") {
		t.Errorf("a PNG to a terminal: exit %d, %d bytes written, %q", code, out.Len(), errb.String())
	}
	if r := runMain(t, "api", "/geocode", "--header", "Authorization: Bearer x"); r.code != 64 {
		t.Errorf("--header Authorization: exit %d, want 64", r.code)
	}
	if r := runMain(t, "report", "--sink", "https", "--https-url", "https://api.example/r", "--https-scope", "api://x/Readings.Write"); r.code != 64 || !strings.Contains(r.err, "looks like a scope") {
		t.Errorf("--https-scope with a scope: exit %d %q", r.code, r.err)
	}
}
