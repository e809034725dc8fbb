package geofence

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// guideSample is the fence from the device code guide, plus a polygon.
const guideSample = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},
  "properties":{"geometryId":"001","radius":500,"subType":"Circle"}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.14,47.63],[-122.12,47.63],[-122.12,47.65],[-122.14,47.65],[-122.14,47.63]]]},
  "properties":{"geometryId":"campus"}}]}`

func TestParseGuideSample(t *testing.T) {
	fences, err := ParseBytes([]byte(guideSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(fences) != 2 || fences[0].Kind != KindCircle || fences[0].Radius != 500 || fences[1].Kind != KindPolygon {
		t.Fatalf("fences %+v", fences)
	}
	// The guide itself sends the Point without subType: a point fence.
	plain := `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500}}]}`
	if _, err := ParseBytes([]byte(plain)); err != nil {
		t.Errorf("the guide's own sample: %v", err)
	}
}

func feature(geom, props string) string {
	return `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":` + geom + `,"properties":` + props + `}]}`
}

const square = `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}`

func TestValidationRules(t *testing.T) {
	tests := []struct {
		name, doc   string
		wantPointer string
		wantText    string
	}{
		{"not JSON", `{"type":`, "", "not valid JSON"},
		{"wrong top type", `{"type":"Polygon"}`, "/type", "FeatureCollection"},
		{"no features", `{"type":"FeatureCollection","features":[]}`, "/features", "at least one"},
		{"missing geometryId", feature(square, `{}`), "/features/0/properties/geometryId", "missing"},
		{"numeric geometryId", feature(square, `{"geometryId":1}`), "/features/0/properties/geometryId", "string"},
		{"empty geometryId", feature(square, `{"geometryId":" "}`), "/features/0/properties/geometryId", "empty"},
		{"radius on polygon", feature(square, `{"geometryId":"a","radius":5}`), "/features/0/properties/radius", "no radius"},
		// A frequency past 10,000 once overflowed the period arithmetic:
		// a divide by zero (Daily) or a loop without end (Monthly).
		{"huge frequency", feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":[{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-01T10:00:00Z","recurrenceType":"Daily","recurrenceFrequency":281474976710656}]}}`),
			"/features/0/properties/validityTime/validityPeriod/0/recurrenceFrequency", "from 1 to 10000"},
		{"point without radius", feature(`{"type":"Point","coordinates":[1,2]}`, `{"geometryId":"a"}`), "/features/0/properties/radius", "needs a radius"},
		{"line without radius", feature(`{"type":"LineString","coordinates":[[1,2],[2,3]]}`, `{"geometryId":"a"}`), "/features/0/properties/radius", "needs a radius"},
		{"radius too small", feature(`{"type":"Point","coordinates":[1,2]}`, `{"geometryId":"a","radius":0.5}`), "/features/0/properties/radius", "out of range"},
		{"radius too large", feature(`{"type":"Point","coordinates":[1,2]}`, `{"geometryId":"a","radius":10001}`), "/features/0/properties/radius", "out of range"},
		{"radius not a number", feature(`{"type":"Point","coordinates":[1,2]}`, `{"geometryId":"a","radius":"500"}`), "/features/0/properties/radius", "number"},
		{"circle on a polygon", feature(square, `{"geometryId":"a","subType":"Circle"}`), "/features/0/properties/subType", "Point"},
		{"unknown subType", feature(`{"type":"Point","coordinates":[1,2]}`, `{"geometryId":"a","radius":5,"subType":"Square"}`), "/features/0/properties/subType", "Circle"},
		{"open ring", feature(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0.5]]]}`, `{"geometryId":"a"}`), "/features/0/geometry/coordinates/0/4", "not closed"},
		{"short ring", feature(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, `{"geometryId":"a"}`), "/features/0/geometry/coordinates/0", "at least 4"},
		{"longitude out of range", feature(`{"type":"Point","coordinates":[181,2]}`, `{"geometryId":"a","radius":5}`), "/features/0/geometry/coordinates/0", "longitude"},
		{"latitude out of range", feature(`{"type":"Point","coordinates":[1,-91]}`, `{"geometryId":"a","radius":5}`), "/features/0/geometry/coordinates/1", "latitude"},
		{"bad position", feature(`{"type":"Point","coordinates":[1]}`, `{"geometryId":"a","radius":5}`), "/features/0/geometry/coordinates", "[longitude, latitude]"},
		{"unsupported geometry", feature(`{"type":"GeometryCollection","geometries":[]}`, `{"geometryId":"a"}`), "/features/0/geometry/type", "not supported"},
		{"missing geometry", feature(`null`, `{"geometryId":"a"}`), "/features/0/geometry", "missing"},
		{"bad expiredTime", feature(square, `{"geometryId":"a","validityTime":{"expiredTime":"tomorrow"}}`), "/features/0/properties/validityTime/expiredTime", "RFC 3339"},
		{"end before start", feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":[{"startTime":"2026-01-02T00:00:00Z","endTime":"2026-01-01T00:00:00Z"}]}}`), "/features/0/properties/validityTime/validityPeriod/0/endTime", "after startTime"},
		{"bad recurrence", feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":[{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z","recurrenceType":"Hourly"}]}}`), "/features/0/properties/validityTime/validityPeriod/0/recurrenceType", "Daily"},
		{"validityTime not an object", feature(square, `{"geometryId":"a","validityTime":5}`), "/features/0/properties/validityTime", "object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(tt.doc))
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want problems", err)
			}
			for _, p := range inv.Problems {
				if p.Pointer == tt.wantPointer && strings.Contains(p.Message, tt.wantText) {
					return
				}
			}
			t.Errorf("no problem at %s saying %q; got %v", tt.wantPointer, tt.wantText, inv.Problems)
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	doc := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"geometryId":"a"}},
	 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0.5]]]},"properties":{"geometryId":"a"}},
	 {"type":"Feature","geometry":{"type":"Point","coordinates":[200,2]},"properties":{"geometryId":"c","radius":50}}]}`
	_, err := ParseBytes([]byte(doc))
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 4 {
		t.Fatalf("want 4 problems (radius, duplicate id, open ring, longitude), got %v", err)
	}
	want := []string{"needs a radius", "also used by feature 0", "not closed", "longitude"}
	for i, w := range want {
		if !strings.Contains(inv.Problems[i].Message, w) {
			t.Errorf("problem %d = %s, want %q", i, inv.Problems[i], w)
		}
	}
	if inv.Problems[1].Feature != 1 || inv.Problems[1].GeometryID != "a" {
		t.Errorf("problem 1 does not say where: %+v", inv.Problems[1])
	}
}

func TestParseRefusesHugeInput(t *testing.T) {
	if raceDetector {
		t.Skip("100 MB under the race detector takes minutes; .ci/run runs this package without it too")
	}
	r := strings.NewReader(strings.Repeat(" ", MaxUploadSize+10))
	if _, err := Parse(r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// Distances are checked against orb's own great-circle functions, which
// share no code with the evaluator. Tolerance: 0.5 m or 0.1%.
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if tol := math.Max(0.5, math.Abs(want)*0.001); math.Abs(got-want) > tol {
		t.Errorf("%s: %.2f m, want %.2f m (±%.2f)", what, got, want, tol)
	}
}

func TestCircleDistances(t *testing.T) {
	fences, _ := ParseBytes([]byte(guideSample))
	circle := fences[0]
	centre := circle.Geometry.(orb.Point)
	d, nearest := Distance(circle, centre[1], centre[0])
	near(t, "at the centre", d, -500)
	near(t, "centre to nearest border point", orbgeo.Distance(centre, nearest), 500)
	for _, bearing := range []float64{0, 45, 90, 200} {
		p := orbgeo.PointAtBearingAndDistance(centre, bearing, 1000)
		d, nearest := Distance(circle, p[1], p[0])
		near(t, "1 km away", d, 500)
		near(t, "nearest point to the centre", orbgeo.Distance(centre, nearest), 500)
		p = orbgeo.PointAtBearingAndDistance(centre, bearing, 300)
		d, _ = Distance(circle, p[1], p[0])
		near(t, "300 m from the centre", d, -200)
	}
}

func TestPolygonDistances(t *testing.T) {
	// A 0.02° square with a 0.004° hole in the middle.
	doc := feature(`{"type":"Polygon","coordinates":[
	  [[10,50],[10.02,50],[10.02,50.02],[10,50.02],[10,50]],
	  [[10.008,50.008],[10.012,50.008],[10.012,50.012],[10.008,50.012],[10.008,50.008]]]}`, `{"geometryId":"sq"}`)
	fences, err := ParseBytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	sq := fences[0]
	// Inside, 0.001° north of the south edge.
	p := orb.Point{10.005, 50.001}
	d, nearest := Distance(sq, p[1], p[0])
	near(t, "inside near the south edge", d, -orbgeo.Distance(p, orb.Point{10.005, 50}))
	near(t, "nearest point is on the edge", nearest[1], 50)
	// Outside, west of the west edge.
	p = orb.Point{9.995, 50.01}
	d, _ = Distance(sq, p[1], p[0])
	near(t, "outside to the west", d, orbgeo.Distance(p, orb.Point{10, 50.01}))
	// In the hole: outside, measured to the hole's edge.
	p = orb.Point{10.01, 50.01}
	d, _ = Distance(sq, p[1], p[0])
	near(t, "in the hole", d, orbgeo.Distance(p, orb.Point{10.008, 50.01}))
}

func TestLineAndMultiPolygon(t *testing.T) {
	doc := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[0.01,0]]},"properties":{"geometryId":"road","radius":100}},
	 {"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[
	   [[[1,1],[1.01,1],[1.01,1.01],[1,1.01],[1,1]]],
	   [[[2,2],[2.01,2],[2.01,2.01],[2,2.01],[2,2]]]]},"properties":{"geometryId":"two"}}]}`
	fences, err := ParseBytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := orb.Point{0.005, 0.0005} // about 55 m north of the road
	d, _ := Distance(fences[0], p[1], p[0])
	near(t, "beside the road", d, orbgeo.Distance(p, orb.Point{0.005, 0})-100)
	d, _ = Distance(fences[1], 2.005, 2.005)
	if d >= 0 {
		t.Errorf("inside the second polygon of a MultiPolygon: %v", d)
	}
}

func TestEvaluateSearchBufferAndValidity(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) // a Saturday
	doc := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"geometryId":"c","radius":100,"subType":"Circle"}},
	 {"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"geometryId":"old","radius":100,"validityTime":{"expiredTime":"2026-01-01T00:00:00Z"}}},
	 {"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"geometryId":"weekdays","radius":100,
	   "validityTime":{"validityPeriod":[{"startTime":"2026-01-01T08:00:00Z","endTime":"2026-01-01T18:00:00Z","recurrenceType":"Daily","businessDayOnly":true}]}}},
	 {"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"geometryId":"daily","radius":100,
	   "validityTime":{"validityPeriod":[{"startTime":"2026-01-01T08:00:00Z","endTime":"2026-01-01T18:00:00Z","recurrenceType":"Daily"}]}}}]}`
	fences, err := ParseBytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	res := Evaluate(fences, Query{Lat: 0, Lon: 0, SearchBuffer: 50, UserTime: now})
	if len(res.ExpiredGeofenceGeometryID) != 1 || res.ExpiredGeofenceGeometryID[0] != "old" {
		t.Errorf("expired %v", res.ExpiredGeofenceGeometryID)
	}
	if len(res.InvalidPeriodGeofenceGeometryID) != 1 || res.InvalidPeriodGeofenceGeometryID[0] != "weekdays" {
		t.Errorf("invalid period %v", res.InvalidPeriodGeofenceGeometryID)
	}
	if len(res.Geometries) != 2 || res.Geometries[0].Distance != -Far {
		t.Errorf("at the centre with a 50 m buffer, want -999: %+v", res.Geometries)
	}
	res = Evaluate(fences[:1], Query{Lat: 0, Lon: 0, SearchBuffer: 500, UserTime: now})
	near(t, "with a 500 m buffer", res.Geometries[0].Distance, -100)
	res = Evaluate(fences[3:], Query{Lat: 0, Lon: 0, SearchBuffer: 500, UserTime: now.Add(8 * time.Hour)})
	if len(res.InvalidPeriodGeofenceGeometryID) != 1 {
		t.Errorf("20:00 is outside the daily 08:00–18:00 period: %+v", res)
	}
}

// Microsoft's geofence tutorial writes validity times with no offset and
// ends a day at 24:00:00; the service takes them, so we do too (as UTC).
func TestTutorialTimes(t *testing.T) {
	doc := feature(square, `{"geometryId":"2","validityTime":{"expiredTime":"2022-12-31T23:59:59","validityPeriod":[{"startTime":"2022-01-01T00:00:00","endTime":"2022-01-01T24:00:00","recurrenceType":"Daily","businessDayOnly":false}]}}`)
	fences, err := ParseBytes([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	v := fences[0].Validity
	if got, want := *v.Expired, time.Date(2022, 12, 31, 23, 59, 59, 0, time.UTC); !got.Equal(want) {
		t.Errorf("expiredTime %v, want %v", got, want)
	}
	p := v.Periods[0]
	if got, want := p.End.Sub(p.Start), 24*time.Hour; got != want {
		t.Errorf("the period lasts %v, want a whole day", got)
	}
	in := Evaluate(fences, Query{Lat: 0.5, Lon: 0.5, SearchBuffer: 50, UserTime: time.Date(2022, 6, 1, 23, 30, 0, 0, time.UTC)})
	if len(in.Geometries) != 1 || len(in.InvalidPeriodGeofenceGeometryID) != 0 {
		t.Errorf("late in a valid day the fence is not measured: %+v", in)
	}
}

// TestHaversineSeries checks the series haversine uses within 64 km
// against math's functions, at every latitude and across the
// antimeridian: the same distance to a micrometre.
func TestHaversineSeries(t *testing.T) {
	exact := func(p projection, to orb.Point) float64 {
		lat1, lat2 := p.lat0*math.Pi/180, to[1]*math.Pi/180
		sinLat, sinLon := math.Sin((lat2-lat1)/2), math.Sin((to[0]-p.lon0)*math.Pi/360)
		a := sinLat*sinLat + math.Cos(lat1)*math.Cos(lat2)*sinLon*sinLon
		return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
	}
	rng := rand.New(rand.NewPCG(3, 3))
	worst := 0.0
	for range 200000 {
		lat, lon := rng.Float64()*178-89, rng.Float64()*360-180
		p := newProjection(lat, lon)
		span := math.Pow(10, -6+rng.Float64()*5.8) // up to 0.63°, past where the series stop
		to := orb.Point{wrapLon(lon + (rng.Float64()*2-1)*span), max(-90, min(90, lat+(rng.Float64()*2-1)*span))}
		got, want := p.haversine(to), exact(p, to)
		if diff := math.Abs(got - want); diff > worst {
			worst = diff
		}
	}
	t.Logf("worst difference %.3g m", worst)
	if worst > 1e-6 {
		t.Errorf("the series haversine is up to %.3g m from math's, want under a micrometre", worst)
	}
}
