package geofence

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// TestSidesPlacePositionsRightly: where a grid of sides places a
// position, the side must be the one ray casting finds, and the bounds
// must hold the distance to the nearest edge measured over every edge.
// A wrong side would answer inside for outside, and a lower bound too
// high would drop a fence within the buffer. Smooth rings and jagged,
// self-crossing walks, with and without a hole, from the equator to 80°,
// a few hundred metres to degrees across.
func TestSidesPlacePositionsRightly(t *testing.T) {
	placed, checked := 0, 0
	eachSidesPosition(t, rand.New(rand.NewPCG(8, 9)), func(trial int, poly orb.Polygon, e *edgeIndex, q orb.Point, p projection) {
		var pl place
		checked++
		if !e.sides.at(p, &pl) {
			return
		}
		placed++
		if want := polygonContains(poly, q); pl.inside != want {
			t.Fatalf("trial %d: %v placed inside %v, ray casting says %v", trial, q, pl.inside, want)
		}
		d := math.Inf(1)
		for _, r := range poly {
			for i := 0; i+1 < len(r); i++ {
				x, y, _ := p.segmentNearest(r[i], r[i+1])
				d = min(d, math.Hypot(x, y))
			}
		}
		if pl.lower > d*(1+1e-9)+1e-6 || pl.upper < d {
			t.Fatalf("trial %d: %v is %.6f m from the border, outside the bounds %.6f to %.6f", trial, q, d, pl.lower, pl.upper)
		}
	})
	t.Logf("%d of %d positions placed", placed, checked)
	if placed < checked/2 {
		t.Errorf("only %d of %d positions placed: the grid does little", placed, checked)
	}
}

// eachSidesPosition calls fn for 400 positions in and around the box of
// each of the 24 polygons of sidesPolygon, indexed.
func eachSidesPosition(t *testing.T, rng *rand.Rand, fn func(trial int, poly orb.Polygon, e *edgeIndex, q orb.Point, p projection)) {
	t.Helper()
	for trial := range 24 {
		poly := sidesPolygon(rng, trial)
		f := Fence{GeometryID: "big", Kind: KindPolygon, Geometry: poly}
		var e edgeIndex
		e.build(f, fenceParts(f))
		if e.sides == nil {
			t.Fatalf("trial %d: no grid of sides for a fence of %d chunks", trial, e.n)
		}
		b := poly.Bound()
		w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
		for range 400 {
			q := orb.Point{b.Min[0] - 0.1*w + rng.Float64()*1.2*w, b.Min[1] - 0.1*h + rng.Float64()*1.2*h}
			fn(trial, poly, &e, q, newProjection(q[1], q[0]))
		}
	}
}

// sidesPolygon is one of 24 large polygons of 2,500 edges, at the
// equator, 33°, 47° and 79.5°, from a few hundred metres to degrees
// across: smooth rings, and jagged walks that cross themselves, some with
// a hole.
func sidesPolygon(rng *rand.Rand, trial int) orb.Polygon {
	lat0 := []float64{0, -33, 47, 79.5}[trial%4]
	lon0 := -170 + rng.Float64()*340
	size := []float64{0.005, 0.2, 3}[trial%3]
	var poly orb.Polygon
	if trial%2 == 0 {
		poly = orb.Polygon{wavyRing(lon0, lat0, size, size*0.6, 2500, 0.1+rng.Float64()*0.2, trial)}
	} else {
		// A walk that turns mostly one way, so that it encloses
		// something, and crosses itself now and then.
		ring := orb.Ring{{lon0, lat0}}
		heading, step := 0.0, size*2*math.Pi/2500
		for range 2500 {
			heading += 2*math.Pi/2500 + (rng.Float64()-0.5)*0.8
			last := ring[len(ring)-1]
			ring = append(ring, orb.Point{last[0] + step*math.Cos(heading), math.Max(-80, math.Min(80, last[1]+step*math.Sin(heading)))})
		}
		ring = append(ring, ring[0])
		poly = orb.Polygon{ring}
	}
	if trial%3 == 1 {
		c := poly.Bound().Center()
		poly = append(poly, reversed(wavyRing(c[0], c[1], size*0.2, size*0.1, 40, 0.1, 1)))
	}
	return poly
}

// TestSidesCandidatesHoldTheNearest: where a position's cell lists the
// nodes its nearest border point may be under, the search among them
// (foretold chunk first, stopping at the first node too far from the
// cell's centre) finds the nearest edge a pass over every edge finds, to
// the same distance and point. A list that left out a node, or a stop
// too soon, would answer a farther border point.
func TestSidesCandidatesHoldTheNearest(t *testing.T) {
	listed, checked := 0, 0
	eachSidesPosition(t, rand.New(rand.NewPCG(10, 11)), func(trial int, poly orb.Polygon, e *edgeIndex, q orb.Point, p projection) {
		checked++
		var pl place
		if !e.sides.at(p, &pl) {
			return
		}
		if _, _, ok := e.sides.candidates(&pl); !ok {
			return
		}
		listed++
		d, nearest, ok := e.distanceBeside(p, &pl, math.Inf(1))
		if !ok {
			t.Fatalf("trial %d: %v has no nearest border point", trial, q)
		}
		f := Fence{GeometryID: "big", Kind: KindPolygon, Geometry: poly}
		want, wantAt := Distance(f, q[1], q[0]) // a pass over every edge
		if math.Abs(d-want) > 1e-6*max(1, math.Abs(want)) {
			t.Fatalf("trial %d: %v is %.6f m from the border, the search says %.6f", trial, q, want, d)
		}
		if gap := newProjection(wantAt[1], wantAt[0]).haversine(nearest); gap > 0.01 {
			t.Fatalf("trial %d: %v's nearest border point is %v, the search says %v, %.3f m away", trial, q, wantAt, nearest, gap)
		}
	})
	t.Logf("%d of %d positions searched among their cell's candidates", listed, checked)
	if listed < checked/2 {
		t.Errorf("only %d of %d positions searched among candidates: the lists do little", listed, checked)
	}
}

// TestSidesPlaceNoNaN: a position that is not a number is placed on no
// side (whatever the distance to the border compares with it).
func TestSidesPlaceNoNaN(t *testing.T) {
	f := Fence{GeometryID: "big", Kind: KindPolygon, Geometry: orb.Polygon{wavyRing(10, 50, 0.04, 0.02, 3000, 0.1, 3)}}
	ix := NewIndex([]Fence{f})
	s := ix.edgesOf(0).sides
	if s == nil {
		t.Fatal("no grid of sides")
	}
	for _, q := range [][2]float64{{math.NaN(), 10}, {50, math.NaN()}, {math.NaN(), math.NaN()}} {
		var pl place
		if s.at(newProjection(q[0], q[1]), &pl) {
			t.Errorf("lat %v lon %v placed", q[0], q[1])
		}
	}
}

// TestSidesAliasedRings: rings a caller built in Go may share memory, a
// shorter one a prefix of a longer one. Indexing them must not panic,
// and answers must be those of the pass over every edge.
func TestSidesAliasedRings(t *testing.T) {
	a := wavyRing(10, 50, 0.04, 0.02, 3000, 0.1, 3)
	start := a[0]
	var b orb.Ring // a second lobe through the first ring's start
	for i := range 3001 {
		ang := 2 * math.Pi * float64(i) / 3000
		b = append(b, orb.Point{start[0] + 0.04 - 0.04*math.Cos(ang), start[1] + 0.02*math.Sin(ang)})
	}
	b[len(b)-1] = start
	ring := append(append(orb.Ring{}, a...), b[1:]...) // a figure of eight
	f := Fence{GeometryID: "x", Kind: KindPolygon, Geometry: orb.MultiPolygon{{ring}, {ring[:len(a)]}}}
	ix := NewIndex([]Fence{f})
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		q := Query{Lon: 9.95 + rng.Float64()*0.2, Lat: 49.97 + rng.Float64()*0.06, SearchBuffer: 50}
		want, _ := Distance(f, q.Lat, q.Lon)
		gs := ix.Evaluate(q).Geometries
		if math.Abs(want) > 50 && !Inside(want) {
			continue // beyond the buffer outside: the index leaves it out
		}
		if len(gs) != 1 {
			t.Fatalf("%+v: %d answers, want 1 (distance %.1f)", q, len(gs), want)
		}
		if w := answer("x", want, orb.Point{}, 50).Distance; gs[0].Distance != w {
			t.Fatalf("%+v: distance %v, the pass over every edge %v", q, gs[0].Distance, w)
		}
	}
}
