package emulator_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
)

// spatialFixture is a documented exchange with the Spatial service: what
// was uploaded, and the answers to requests made in order for one device.
type spatialFixture struct {
	Source   string          `json:"source"`
	Omitted  []string        `json:"omitted"`
	Upload   json.RawMessage `json:"upload"`
	Requests []struct {
		Name     string         `json:"name"`
		Query    string         `json:"query"` // {udid} stands for the upload's
		Response map[string]any `json:"response"`
		// Differences are fields where the documented answer is wrong
		// on its face, by path, with the reason. The test checks that
		// they still differ, so that a stale entry is noticed.
		Differences map[string]string `json:"differences"`
	} `json:"requests"`
}

// Tolerances the documented answers justify: the service reports
// distances to the decimetre and nearest points to six decimals.
var tolerance = map[string]float64{
	"distance":   0.05,
	"nearestLat": 0.5e-6,
	"nearestLon": 0.5e-6,
}

// TestSpatialMatchesDocumentedAnswers replays the documented examples in
// testdata/spatial (each file says where its example comes from) and
// compares the emulator's answers with the service's, field by field.
func TestSpatialMatchesDocumentedAnswers(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "spatial", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx spatialFixture
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatal(err)
			}
			t.Logf("from %s", fx.Source)
			for _, o := range fx.Omitted {
				t.Logf("left out: %s", o)
			}
			srv := emulatortest.StartInMemory(t, emulator.Options{MapsOperationTime: time.Millisecond, MapsRate: -1})
			udid := uploadAndWait(t, srv, string(fx.Upload))
			for _, rq := range fx.Requests {
				// Requests run in order: in EnterAndExit mode each
				// answer depends on the ones before.
				q, err := url.ParseQuery(strings.ReplaceAll(rq.Query, "{udid}", udid))
				if err != nil {
					t.Fatalf("%s: %v", rq.Name, err)
				}
				status, body := keyed(t, srv, "GET", "/spatial/geofence/json", q, nil)
				if status != 200 {
					t.Fatalf("%s: %d %s", rq.Name, status, body)
				}
				var got map[string]any
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("%s: %v", rq.Name, err)
				}
				// The documented udId is the tutorial's upload; ours has its own.
				want := withUDID(rq.Response, udid)
				found := map[string]bool{}
				for _, d := range compareJSON("", got, want) {
					if reason, ok := rq.Differences[d.path]; ok {
						found[d.path] = true
						t.Logf("%s: %s: documented %v, emulator %v (%s)", rq.Name, d.path, d.want, d.got, reason)
						continue
					}
					t.Errorf("%s: %s: emulator %v, documented %v", rq.Name, d.path, d.got, d.want)
				}
				for path := range rq.Differences {
					if !found[path] {
						t.Errorf("%s: %s agrees with the documented answer now: drop it from differences", rq.Name, path)
					}
				}
			}
		})
	}
}

type difference struct {
	path      string
	got, want any
}

// compareJSON lists where got and want differ, numbers within tolerance
// of their field name.
func compareJSON(path string, got, want any) []difference {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []difference{{path, got, want}}
		}
		var out []difference
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, compareJSON(path+"/"+k, g[k], w[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []difference{{path, got, want}}
		}
		var out []difference
		for i := range w {
			out = append(out, compareJSON(fmt.Sprintf("%s/%d", path, i), g[i], w[i])...)
		}
		return out
	case float64:
		g, ok := got.(float64)
		tol := tolerance[path[strings.LastIndexByte(path, '/')+1:]]
		if !ok || math.Abs(g-w) > tol+1e-9 {
			return []difference{{path, got, want}}
		}
		return nil
	default:
		if got != want {
			return []difference{{path, got, want}}
		}
		return nil
	}
}

// withUDID copies an answer with every geometry's udId set to udid.
func withUDID(resp map[string]any, udid string) map[string]any {
	raw, _ := json.Marshal(resp)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	geometries, _ := out["geometries"].([]any)
	for _, g := range geometries {
		if m, ok := g.(map[string]any); ok {
			m["udId"] = udid
		}
	}
	return out
}

// uploadAndWait stores GeoJSON through Data v2 and returns its udid.
func uploadAndWait(t *testing.T, srv *emulator.Server, geojson string) string {
	t.Helper()
	q := url.Values{"api-version": {"2.0"}, "dataFormat": {"geojson"}}
	status, body, header := keyedHeader(t, srv, "POST", "/mapData", q, strings.NewReader(geojson))
	if status != 202 {
		t.Fatalf("upload: %d %s", status, body)
	}
	op, err := url.Parse(header.Get("Operation-Location"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		status, body, header := keyedHeader(t, srv, "GET", op.Path, op.Query(), nil)
		var st struct{ Status string }
		json.Unmarshal([]byte(body), &st)
		switch {
		case status != 200 || st.Status == "Failed":
			t.Fatalf("operation: %d %s", status, body)
		case st.Status == "Succeeded":
			loc := header.Get("Resource-Location")
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			return u.Path[strings.LastIndexByte(u.Path, '/')+1:]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the upload did not finish in 10 s")
	return ""
}
