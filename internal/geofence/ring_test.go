package geofence

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

func polygonFence(t *testing.T, coords string) Fence {
	t.Helper()
	fences, err := ParseBytes([]byte(feature(`{"type":"Polygon","coordinates":[`+coords+`]}`, `{"geometryId":"p"}`)))
	if err != nil {
		t.Fatalf("parse %s: %v", coords, err)
	}
	return fences[0]
}

// The service reads an edge the short way across the antimeridian, so this
// ring is a 2° box round longitude 180, not a 358° band round the globe.
const antimeridianBox = `[[179,-1],[-179,-1],[-179,1],[179,1],[179,-1]]`

func TestAntimeridianBox(t *testing.T) {
	box := polygonFence(t, antimeridianBox)
	tests := []struct {
		name   string
		pos    orb.Point // [lon, lat]
		inside bool
		// border is the nearest border point, for the distance; nil
		// where several are equally near.
		border *orb.Point
	}{
		{"at 180", orb.Point{180, 0}, true, nil},
		{"at -180", orb.Point{-180, 0.5}, true, &orb.Point{-180, 1}},
		{"at 179.5", orb.Point{179.5, 0}, true, &orb.Point{179, 0}},
		{"at 0", orb.Point{0, 0}, false, nil},
		{"at 178", orb.Point{178, 0}, false, &orb.Point{179, 0}},
		{"100 m inside the west edge", orb.Point{179.0009, 0.3}, true, &orb.Point{179, 0.3}},
		{"100 m outside the east edge", orb.Point{-178.9991, -0.2}, false, &orb.Point{-179, -0.2}},
		{"45 m outside the north edge on the antimeridian", orb.Point{180, 1.0004}, false, &orb.Point{180, 1}},
		{"just inside the north edge east of 180", orb.Point{-179.9995, 0.9996}, true, &orb.Point{-179.9995, 1}},
		{"just inside the north edge west of 180", orb.Point{179.9995, 0.9996}, true, &orb.Point{179.9995, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, nearest := Distance(box, tt.pos[1], tt.pos[0])
			if got := Inside(d); got != tt.inside {
				t.Errorf("inside = %v (distance %.1f m), want %v", got, d, tt.inside)
			}
			if nearest[0] < -180 || nearest[0] > 180 {
				t.Errorf("nearest border point %v is off the map", nearest)
			}
			if tt.border == nil {
				return
			}
			want := orbgeo.DistanceHaversine(tt.pos, *tt.border)
			if !tt.inside {
				want = -want
			}
			if math.Abs(-d-want) > 0.1 {
				t.Errorf("distance = %.3f m, want %.3f m (±0.1)", d, -want)
			}
			if got := orbgeo.DistanceHaversine(nearest, *tt.border); got > 0.1 {
				t.Errorf("nearest border point %v is %.3f m from %v", nearest, got, *tt.border)
			}
		})
	}
}

// Reading edges the short way must not break polygons that are wide but
// made of shorter edges, nor a box round the whole world.
func TestWidePolygons(t *testing.T) {
	tests := []struct {
		name   string
		ring   string
		pos    orb.Point
		inside bool
	}{
		{"200° box, at 0", `[[-100,-10],[0,-10],[100,-10],[100,10],[0,10],[-100,10],[-100,-10]]`, orb.Point{0, 0}, true},
		{"200° box, at 99", `[[-100,-10],[0,-10],[100,-10],[100,10],[0,10],[-100,10],[-100,-10]]`, orb.Point{99, 5}, true},
		{"200° box, at 150", `[[-100,-10],[0,-10],[100,-10],[100,10],[0,10],[-100,10],[-100,-10]]`, orb.Point{150, 0}, false},
		{"200° box, at 180", `[[-100,-10],[0,-10],[100,-10],[100,10],[0,10],[-100,10],[-100,-10]]`, orb.Point{180, 0}, false},
		{"one 200° edge is read the short way, at 180", `[[-100,-10],[100,-10],[100,10],[-100,10],[-100,-10]]`, orb.Point{180, 0}, true},
		{"one 200° edge is read the short way, at 0", `[[-100,-10],[100,-10],[100,10],[-100,10],[-100,-10]]`, orb.Point{0, 0}, false},
		{"world box, at 0", `[[-180,-80],[180,-80],[180,80],[-180,80],[-180,-80]]`, orb.Point{0, 0}, true},
		{"world box, at 179.9", `[[-180,-80],[180,-80],[180,80],[-180,80],[-180,-80]]`, orb.Point{179.9, 40}, true},
		{"world box, at -179.9", `[[-180,-80],[180,-80],[180,80],[-180,80],[-180,-80]]`, orb.Point{-179.9, -40}, true},
		{"world box, beyond 80° north", `[[-180,-80],[180,-80],[180,80],[-180,80],[-180,-80]]`, orb.Point{10, 85}, false},
		{"box east of 180 written with 180", `[[180,-1],[-179,-1],[-179,1],[180,1],[180,-1]]`, orb.Point{-179.5, 0}, true},
		{"box east of 180 written with 180, west of it", `[[180,-1],[-179,-1],[-179,1],[180,1],[180,-1]]`, orb.Point{179.5, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := Distance(polygonFence(t, tt.ring), tt.pos[1], tt.pos[0])
			if got := Inside(d); got != tt.inside {
				t.Errorf("inside = %v (distance %.1f m), want %v", got, d, tt.inside)
			}
		})
	}
	// Along the world box's southern edge, the border is due south
	// wherever the position is, not at the box's corner.
	world := polygonFence(t, `[[-180,-80],[180,-80],[180,80],[-180,80],[-180,-80]]`)
	for _, lon := range []float64{-179.5, 0, 170, 179.9} {
		pos := orb.Point{lon, -79.999}
		d, _ := Distance(world, pos[1], pos[0])
		if want := -orbgeo.DistanceHaversine(pos, orb.Point{lon, -80}); math.Abs(d-want) > 0.1 {
			t.Errorf("world box at %v: distance %.3f m, want %.3f m", pos, d, want)
		}
	}
}

// For a polygon nowhere near the antimeridian the answers are those of a
// plain planar test.
func TestOrdinaryPolygonsUnchanged(t *testing.T) {
	f := polygon1000()
	ring := f.Geometry.(orb.Polygon)[0]
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := orb.Point{10 + (rng.Float64()-0.5)*0.04, 50 + (rng.Float64()-0.5)*0.03}
		if got, want := ringContains(ring, p), planarContains(ring, p); got != want {
			t.Fatalf("at %v: inside = %v, want %v", p, got, want)
		}
	}
}

// planarContains is the even-odd test with no regard for the antimeridian.
func planarContains(r orb.Ring, pt orb.Point) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a[1] > pt[1]) != (b[1] > pt[1]) && pt[0] < (b[0]-a[0])*(pt[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

func ringJSON(r orb.Ring) string {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range r {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%v,%v]", p[0], p[1])
	}
	b.WriteString("]")
	return b.String()
}

// starRing is a simple ring of n vertices round (lon, lat): one vertex at
// each of n sorted angles, each at its own radius, so the ring is concave
// almost everywhere but never crosses itself.
func starRing(rng *rand.Rand, n int, lon, lat float64) orb.Ring {
	angles := make([]float64, n)
	for i := range angles {
		angles[i] = rng.Float64() * 2 * math.Pi
	}
	slices.Sort(angles)
	r := make(orb.Ring, 0, n+1)
	for _, a := range angles {
		rad := 0.001 + 0.01*rng.Float64()
		r = append(r, orb.Point{lon + rad*math.Cos(a), lat + rad*math.Sin(a)})
	}
	return append(r, r[0])
}

// combRing has teeth long teeth along x, which puts many long edges side by
// side.
func combRing(teeth int) orb.Ring {
	r := orb.Ring{{0, 0}}
	for i := range teeth {
		y := float64(i) * 0.001
		r = append(r, orb.Point{1, y}, orb.Point{1, y + 0.0005}, orb.Point{0.001, y + 0.0005}, orb.Point{0.001, y + 0.001})
	}
	top := float64(teeth) * 0.001
	return append(r, orb.Point{0, top}, orb.Point{0, 0})
}

func TestRingShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		ring string
		// wantText are all in the message at the ring's pointer; none
		// means the ring is valid.
		wantText []string
	}{
		{"square", `[[0,0],[1,0],[1,1],[0,1],[0,0]]`, nil},
		{"triangle", `[[0,0],[1,0],[1,1],[0,0]]`, nil},
		{"repeated position", `[[0,0],[1,0],[1,0],[1,1],[0,1],[0,0]]`, nil},
		{"antimeridian box", antimeridianBox, nil},
		{"world box", `[[-180,-80],[180,-80],[180,80],[-180,80],[-180,-80]]`, nil},
		{"concave comb of 4,000 vertices", ringJSON(combRing(1000)), nil},
		{"random star of 20,000 vertices", ringJSON(starRing(rng, 20000, 10, 50)), nil},
		{"random star across 180", ringJSON(wrapRing(starRing(rng, 5000, 180, 0))), nil},
		{"wavy ring of 1,000 vertices", ringJSON(polygon1000().Geometry.(orb.Polygon)[0]), nil},
		{"bow-tie", `[[0,0],[1,1],[1,0],[0,1],[0,0]]`, []string{"crosses itself", "edge 0 (positions 0 to 1)", "edge 2 (positions 2 to 3)", "[0.500000, 0.500000]"}},
		{"bow-tie across 180", `[[179,0],[-179,1],[-179,0],[179,1],[179,0]]`, []string{"crosses itself", "edge 0", "edge 2", "[180.000000, 0.500000]"}},
		{"figure-eight through a vertex", `[[0,0],[1,1],[2,0],[2,2],[1,1],[0,2],[0,0]]`, []string{"crosses itself", "[1.000000, 1.000000]"}},
		{"vertex on another edge", `[[0,0],[2,0],[2,2],[1,0],[0,2],[0,0]]`, []string{"crosses itself", "edge 0", "[1.000000, 0.000000]"}},
		{"edge doubling back", `[[0,0],[2,0],[2,1],[2,0.5],[0,1],[0,0]]`, []string{"crosses itself", "edge 1", "edge 2", "[2.000000, 1.000000]"}},
		{"collinear overlap", `[[0,0],[4,0],[4,2],[3,2],[3,0],[1,0],[1,2],[0,2],[0,0]]`, []string{"crosses itself", "edge 0 "}},
		{"crossing deep in a large ring", ringJSON(throwAcross(starRing(rng, 20000, 10, 50), 10, 50, 7000)), []string{"crosses itself"}},
		{"no area", `[[0,0],[1,0],[0,0],[0,0]]`, []string{"encloses no area"}},
		{"round a pole", `[[0,80],[90,80],[180,80],[-90,80],[0,80]]`, []string{"encloses a pole"}},
		{"more than a turn wide", `[[0,0],[170,0],[-20,0],[150,0],[150,1],[-20,1],[170,1],[0,1],[0,0]]`, []string{"spans 510°"}},
	}
	const ptr = "/features/0/geometry/coordinates/0"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(feature(`{"type":"Polygon","coordinates":[`+tt.ring+`]}`, `{"geometryId":"p"}`)))
			var inv *InvalidError
			switch {
			case err == nil && tt.wantText == nil:
				return
			case err == nil:
				t.Fatalf("valid; want a problem at %s saying %q", ptr, tt.wantText)
			case !errors.As(err, &inv):
				t.Fatalf("err = %v", err)
			case tt.wantText == nil:
				t.Fatalf("problems %v; want none", inv.Problems)
			}
			if len(inv.Problems) != 1 || inv.Problems[0].Pointer != ptr {
				t.Fatalf("problems %v; want one at %s", inv.Problems, ptr)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(inv.Problems[0].Message, w) {
					t.Errorf("message %q does not say %q", inv.Problems[0].Message, w)
				}
			}
		})
	}
}

// A hole is checked like the outer ring, with its own pointer.
func TestSelfCrossingHole(t *testing.T) {
	doc := feature(`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],
	  [[[10,10],[14,10],[14,14],[10,14],[10,10]],[[11,11],[12,12],[12,11],[11,12],[11,11]]]]}`, `{"geometryId":"m"}`)
	_, err := ParseBytes([]byte(doc))
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("err = %v, want the bow-tie hole", err)
	}
	if got, want := inv.Problems[0].Pointer, "/features/0/geometry/coordinates/1/1"; len(inv.Problems) != 1 || got != want {
		t.Errorf("problems %v, want one at %s", inv.Problems, want)
	}
}

// The sweep answers as a check of every pair of edges does, on small rings
// on a coarse grid, where edges touch and overlap often.
func TestSelfCrossingMatchesEveryPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var crossed, simple int
	for range 20000 {
		n := 3 + rng.IntN(8)
		pts := make([]vertex, n)
		for i := range pts {
			pts[i] = vertex{x: float64(rng.IntN(5)), y: float64(rng.IntN(5)), edge: i}
		}
		pts = distinctVertices(pts)
		if len(pts) < 3 {
			continue
		}
		_, got := selfCrossing(pts)
		want := crossesByEveryPair(pts)
		if got != want {
			t.Fatalf("ring %v: crosses = %v, want %v", pts, got, want)
		}
		if want {
			crossed++
		} else {
			simple++
		}
	}
	if crossed < 1000 || simple < 1000 {
		t.Errorf("the rings were not varied: %d crossed, %d simple", crossed, simple)
	}
}

func crossesByEveryPair(pts []vertex) bool {
	n := len(pts)
	for i := range n {
		for j := i + 1; j < n; j++ {
			a, b, c, d := pts[i], pts[(i+1)%n], pts[j], pts[(j+1)%n]
			if j == i+1 || (i == 0 && j == n-1) {
				// Adjacent: they meet beyond the shared vertex only when
				// the second doubles back along the first.
				shared, p, q := b, a, d
				if i == 0 && j == n-1 {
					shared, p, q = a, b, c
				}
				if orient(p, shared, q) == 0 && (shared.x-p.x)*(q.x-shared.x)+(shared.y-p.y)*(q.y-shared.y) < 0 {
					return true
				}
				continue
			}
			if _, ok := segmentsMeet(a, b, c, d); ok {
				return true
			}
		}
	}
	return false
}

// wrapRing brings longitudes pushed past 180 back into range.
func wrapRing(r orb.Ring) orb.Ring {
	out := make(orb.Ring, len(r))
	for i, p := range r {
		out[i] = orb.Point{wrapLon(p[0]), p[1]}
	}
	return out
}

// throwAcross moves vertex k of a star ring round (lon, lat) to beyond
// the far side of the ring, so its edges cut through the ring.
func throwAcross(r orb.Ring, lon, lat float64, k int) orb.Ring {
	a := math.Atan2(r[k][1]-lat, r[k][0]-lon)
	r[k] = orb.Point{lon - 0.02*math.Cos(a), lat - 0.02*math.Sin(a)}
	return r
}

// BenchmarkValidateRing100000 is validation of one polygon of 100,000
// vertices: the whole parse, and the ring's shape check on its own.
func BenchmarkValidateRing100000(b *testing.B) {
	ring := make(orb.Ring, 0, 100001)
	for i := range 100000 {
		a := 2 * math.Pi * float64(i) / 100000
		r := 0.01 * (1 + 0.1*math.Sin(70*a))
		ring = append(ring, orb.Point{10 + r*math.Cos(a)*1.5, 50 + r*math.Sin(a)})
	}
	ring = append(ring, ring[0])
	b.Run("parse", func(b *testing.B) {
		data := []byte(feature(`{"type":"Polygon","coordinates":[`+ringJSON(ring)+`]}`, `{"geometryId":"p"}`))
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := ParseBytes(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shape", func(b *testing.B) {
		for b.Loop() {
			if msg := ringShapeProblem(ring); msg != "" {
				b.Fatal(msg)
			}
		}
	})
}
