package geofence

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// edgesOf is fence i's edge index.
func (ix *Index) edgesOf(i int) *edgeIndex {
	for k, f := range ix.fenceOf {
		if int(f) == i {
			return &ix.edges[k]
		}
	}
	return nil
}

// wavyRing is a closed ring of n vertices around (lon, lat), rx by ry
// degrees, with a border that wobbles so no vertex is redundant.
func wavyRing(lon, lat, rx, ry float64, n int, wobble float64, seed int) orb.Ring {
	ring := make(orb.Ring, 0, n+1)
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		r := 1 + wobble*math.Sin(float64(3+seed%5)*a+float64(seed))
		ring = append(ring, orb.Point{wrapLon(lon + rx*r*math.Cos(a)), lat + ry*r*math.Sin(a)})
	}
	return append(ring, ring[0])
}

// reversed is a ring walked the other way, as holes usually are.
func reversed(r orb.Ring) orb.Ring {
	out := slices.Clone(r)
	slices.Reverse(out)
	return out
}

// differentialFences is a mix of every kind of fence: many small ones, a
// few large enough to get an edge index, holes, multipolygons, fences
// across the antimeridian and near a pole, and some with a validityTime.
func differentialFences(rng *rand.Rand) []Fence {
	var fences []Fence
	add := func(kind Kind, g orb.Geometry, radius float64) {
		fences = append(fences, Fence{GeometryID: strconv.Itoa(len(fences)), Kind: kind, Geometry: g, Radius: radius})
	}
	centres := [][2]float64{{10, 50}, {179.995, -17}, {-179.99, 65}, {25, 84}}
	for _, c := range centres {
		for range 20 {
			lon, lat := c[0]+rng.NormFloat64()*0.02, c[1]+rng.NormFloat64()*0.01
			n := 8 + rng.IntN(40)
			ring := wavyRing(lon, lat, 0.002+rng.Float64()*0.004, 0.001+rng.Float64()*0.003, n, 0.2, rng.IntN(100))
			switch rng.IntN(4) {
			case 0:
				hole := reversed(wavyRing(lon, lat, 0.0005, 0.0003, 6, 0.1, 1))
				add(KindPolygon, orb.Polygon{ring, hole}, 0)
			case 1:
				add(KindCircle, orb.Point{wrapLon(lon), lat}, 20+rng.Float64()*300)
			case 2:
				line := orb.LineString(ring[:n/2])
				add(KindLine, line, 5+rng.Float64()*50)
			default:
				add(KindPolygon, orb.Polygon{ring}, 0)
			}
		}
		// Large: a polygon with two holes, a multipolygon, a long line and
		// many points, each with more chunks than one node of an edge
		// index holds.
		lon, lat := c[0], c[1]
		add(KindPolygon, orb.Polygon{
			wavyRing(lon, lat, 0.03, 0.02, 600, 0.05, 7),
			reversed(wavyRing(lon+0.01, lat, 0.004, 0.003, 100, 0.1, 3)),
			reversed(wavyRing(lon-0.01, lat-0.005, 0.003, 0.002, 40, 0.1, 4)),
		}, 0)
		add(KindPolygon, orb.MultiPolygon{
			{wavyRing(lon+0.02, lat+0.01, 0.004, 0.002, 80, 0.1, 5)},
			{wavyRing(lon-0.02, lat-0.01, 0.004, 0.002, 80, 0.1, 6), reversed(wavyRing(lon-0.02, lat-0.01, 0.001, 0.0005, 30, 0, 0))},
		}, 0)
		long := wavyRing(lon, lat+0.005, 0.025, 0.015, 300, 0.1, 8)
		add(KindLine, orb.LineString(long[:200]), 40)
		var points orb.MultiPoint
		for range 150 {
			points = append(points, orb.Point{wrapLon(lon + rng.NormFloat64()*0.02), lat + rng.NormFloat64()*0.01})
		}
		add(KindPoint, points, 30)
		if c == centres[0] {
			// Larger still, where a grid of sides places most positions:
			// one ring, and one with a hole.
			add(KindPolygon, orb.Polygon{wavyRing(lon+0.07, lat+0.03, 0.02, 0.012, 2200, 0.1, 9)}, 0)
			add(KindPolygon, orb.Polygon{
				wavyRing(lon-0.07, lat+0.03, 0.02, 0.012, 2200, 0.15, 10),
				reversed(wavyRing(lon-0.07, lat+0.03, 0.006, 0.003, 60, 0.1, 2)),
			}, 0)
		}
	}
	// A box across the antimeridian, which must be read the short way.
	add(KindPolygon, orb.Polygon{{{179, -16}, {-179, -16}, {-179, -18}, {179, -18}, {179, -16}}}, 0)
	// Some fences come and go with time.
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	gone := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range fences {
		switch i % 9 {
		case 1:
			fences[i].Validity = &Validity{Expired: &gone}
		case 2:
			fences[i].Validity = &Validity{Periods: []Period{{Start: start, End: start.Add(10 * time.Hour), Recurrence: "Daily", Frequency: 1, BusinessDayOnly: true}}}
		}
	}
	return fences
}

// differentialQuery is a position near one of the fences (or anywhere
// near the clusters), a search buffer and a time.
func differentialQuery(rng *rand.Rand, fences []Fence) Query {
	parts := fenceParts(fences[rng.IntN(len(fences))])
	lo, hi, _ := bounds(parts)
	pad := 0.01
	lon := lo[0] - pad + rng.Float64()*(hi[0]-lo[0]+2*pad)
	lat := lo[1] - pad/2 + rng.Float64()*(hi[1]-lo[1]+pad)
	if rng.IntN(50) == 0 { // now and then, on a vertex
		p := parts[rng.IntN(len(parts))]
		v := p.pts[rng.IntN(len(p.pts))]
		lon, lat = v[0], v[1]
	}
	return Query{
		Lat:          math.Max(-90, math.Min(90, lat)),
		Lon:          wrapLon(lon),
		SearchBuffer: []float64{0, 5, 50, 500}[rng.IntN(4)],
		UserTime:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))),
	}
}

// TestIndexMatchesExhaustive is the differential test: the indexed
// engine against a pass over every fence, on random positions. Set
// MAPSDEVICE_DIFFERENTIAL to the number of positions (CI runs a million).
func TestIndexMatchesExhaustive(t *testing.T) {
	positions := 20000
	if v := os.Getenv("MAPSDEVICE_DIFFERENTIAL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("MAPSDEVICE_DIFFERENTIAL: %v", err)
		}
		positions = n
	}
	fences := differentialFences(rand.New(rand.NewPCG(1, 2)))
	ix := NewIndex(fences)
	indexed, large := 0, 0
	for i := range fences {
		e := ix.edgesOf(i)
		if e.n == 0 {
			t.Fatalf("fence %s has no edge index", fences[i].GeometryID)
		}
		if e.tree != nil {
			indexed++
		}
		chunks, big := 0, 0
		for _, p := range fenceParts(fences[i]) {
			chunks += (max(1, len(p.pts)-1) + chunkEdges - 1) / chunkEdges
			big += (max(1, len(p.pts)-1) + bigChunkEdges - 1) / bigChunkEdges
		}
		if want := map[bool]int32{false: chunkEdges, true: bigChunkEdges}[big > nodeSize]; e.step != want {
			t.Errorf("fence %s has %d chunks of %d edges, want chunks of %d", fences[i].GeometryID, e.n, e.step, want)
		}
		if chunks > nodeSize {
			large++
		}
	}
	// Both paths must be exercised: the large fences through a tree of
	// chunks, the small ones through a single node; and the largest
	// polygons, with and without a hole, with a grid of sides.
	if indexed != large || large < 16 || indexed == len(fences) {
		t.Fatalf("%d of %d fences have an edge tree deeper than one node; %d are large", indexed, len(fences), large)
	}
	withSides := 0
	for i := range fences {
		if ix.edgesOf(i).sides != nil {
			withSides++
		}
	}
	if withSides != 2 {
		t.Fatalf("%d fences have a grid of sides, want 2", withSides)
	}

	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var mismatches []string
	var inside, near, listed int
	var maxDist, maxNearest float64 // the largest differences seen
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			var myInside, myNear, myListed int
			var myDist, myNearest float64
			for i := w; i < positions; i += workers {
				q := differentialQuery(rng, fences)
				want := Evaluate(fences, q)
				got := ix.Evaluate(q)
				myListed += len(got.Geometries)
				if msg := compareResults(got, want); msg != "" {
					mu.Lock()
					if len(mismatches) < 10 {
						mismatches = append(mismatches, fmt.Sprintf("lat=%v lon=%v buffer=%v time=%s: %s", q.Lat, q.Lon, q.SearchBuffer, q.UserTime.Format(time.RFC3339), msg))
					}
					mu.Unlock()
				} else {
					dd, dn := differences(got, want)
					myDist, myNearest = max(myDist, dd), max(myNearest, dn)
				}
				for _, g := range got.Geometries {
					if Inside(g.Distance) {
						myInside++
					} else {
						myNear++
					}
				}
			}
			mu.Lock()
			inside, near, listed = inside+myInside, near+myNear, listed+myListed
			maxDist, maxNearest = max(maxDist, myDist), max(maxNearest, myNearest)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, m := range mismatches {
		t.Error(m)
	}
	t.Logf("%d positions, %d fences (%d with an edge tree): %d answers inside, %d outside within the buffer; differences at most %.3g m in distance, %.3g m in the nearest point",
		positions, len(fences), indexed, inside, near, maxDist, maxNearest)
	// The positions must exercise both sides, or the test proves little.
	if inside < positions/10 || near < positions/10 {
		t.Errorf("only %d inside and %d near answers for %d positions", inside, near, positions)
	}
}

// differences are the largest differences in distance and in the nearest
// point between answers that compareResults found to agree.
func differences(got, want Result) (dist, nearest float64) {
	var kept []GeometryResult
	for _, g := range want.Geometries {
		if g.Distance != Far {
			kept = append(kept, g)
		}
	}
	for i, g := range got.Geometries {
		w := kept[i]
		dist = max(dist, math.Abs(g.Distance-w.Distance))
		nearest = max(nearest, newProjection(g.NearestLat, g.NearestLon).haversine(orb.Point{w.NearestLon, w.NearestLat}))
	}
	return dist, nearest
}

// manyVertices is where a ring's edges need more than one node of
// chunks: nodeSize chunks of chunkEdges edges, and the closing vertex.
const manyVertices = nodeSize*chunkEdges + 1

// compareResults says how got differs from want, less want's fences at
// +Far, which the index leaves out.
func compareResults(got, want Result) string {
	var kept []GeometryResult
	for _, g := range want.Geometries {
		if g.Distance != Far {
			kept = append(kept, g)
		}
	}
	if !slices.Equal(got.ExpiredGeofenceGeometryID, want.ExpiredGeofenceGeometryID) || !slices.Equal(got.InvalidPeriodGeofenceGeometryID, want.InvalidPeriodGeofenceGeometryID) {
		return fmt.Sprintf("expired %v / out of period %v, want %v / %v", got.ExpiredGeofenceGeometryID, got.InvalidPeriodGeofenceGeometryID, want.ExpiredGeofenceGeometryID, want.InvalidPeriodGeofenceGeometryID)
	}
	if len(got.Geometries) != len(kept) {
		return fmt.Sprintf("%d fences answered, want %d: got %v, want %v", len(got.Geometries), len(kept), got.Geometries, kept)
	}
	for i, g := range got.Geometries {
		w := kept[i]
		switch {
		case g.GeometryID != w.GeometryID:
			return fmt.Sprintf("fence %q answered, want %q", g.GeometryID, w.GeometryID)
		case Inside(g.Distance) != Inside(w.Distance):
			return fmt.Sprintf("fence %s: distance %v, want %v (inside differs)", g.GeometryID, g.Distance, w.Distance)
		case math.Abs(g.Distance-w.Distance) > 0.1:
			return fmt.Sprintf("fence %s: distance %v, want %v", g.GeometryID, g.Distance, w.Distance)
		}
		if d := newProjection(g.NearestLat, g.NearestLon).haversine(orb.Point{w.NearestLon, w.NearestLat}); d > 0.1 {
			return fmt.Sprintf("fence %s: nearest point %v,%v is %.2f m from %v,%v", g.GeometryID, g.NearestLat, g.NearestLon, d, w.NearestLat, w.NearestLon)
		}
	}
	return ""
}

// TestRingPassMatchesGeneral: the one-pass answer for rings that need no
// unwrapping is the general one, bit for bit, and it declines the rings
// that do.
func TestRingPassMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	passed, declined := 0, 0
	for range 20000 {
		lon, lat := rng.Float64()*360-180, rng.Float64()*170-85
		ring := wavyRing(lon, lat, 0.01+rng.Float64()*2, 0.01+rng.Float64(), 4+rng.IntN(60), 0.3, rng.IntN(50))
		q := orb.Point{wrapLon(lon + rng.NormFloat64()*2), math.Max(-90, math.Min(90, lat+rng.NormFloat64()))}
		p := newProjection(q[1], q[0])
		x, y, in, ok := p.ringPass(ring, q)
		if !ok {
			declined++
			continue
		}
		passed++
		wx, wy := p.nearest(orb.LineString(ring))
		if win := ringContains(ring, q); x != wx || y != wy || in != win {
			t.Fatalf("ring near %v,%v, point %v: pass (%v, %v, %v), general (%v, %v, %v)", lon, lat, q, x, y, in, wx, wy, win)
		}
	}
	if passed < 15000 || declined == 0 {
		t.Errorf("%d rings passed and %d declined; want most passed and those across the antimeridian declined", passed, declined)
	}
}

// TestIndexBandRoundTheWorld: a ring the whole way round, in one node of
// chunks and in a tree of them, answers as Evaluate does next to ±180,
// where its two seam edges lie on one line.
func TestIndexBandRoundTheWorld(t *testing.T) {
	band := func(n int) orb.Ring {
		var ring orb.Ring
		for i := 0; i <= n; i++ {
			ring = append(ring, orb.Point{-180 + 360*float64(i)/float64(n), -1})
		}
		for i := n; i >= 0; i-- {
			ring = append(ring, orb.Point{-180 + 360*float64(i)/float64(n), 1})
		}
		return append(ring, ring[0])
	}
	var cap orb.Ring // a polar cap, with enough vertices for an edge index
	for i := 0; i <= manyVertices; i++ {
		cap = append(cap, orb.Point{-180 + 360*float64(i)/manyVertices, 89.99})
	}
	cap = append(cap, orb.Point{180, 90}, orb.Point{-180, 90}, cap[0])
	fences := []Fence{
		{GeometryID: "band", Kind: KindPolygon, Geometry: orb.Polygon{band(manyVertices)}},
		{GeometryID: "cap", Kind: KindPolygon, Geometry: orb.Polygon{cap}},
		{GeometryID: "small band", Kind: KindPolygon, Geometry: orb.Polygon{band(16)}},
	}
	ix := NewIndex(fences)
	if ix.edgesOf(0).tree == nil || ix.edgesOf(1).tree == nil || ix.edgesOf(2).tree != nil {
		t.Fatal("the fences' edge indexes are not as meant; the test would not reach both kinds")
	}
	for _, q := range []Query{
		{Lat: 0.3, Lon: 179.9999, SearchBuffer: 50}, {Lat: -0.4, Lon: -179.9999, SearchBuffer: 50},
		{Lat: 0.5, Lon: 180, SearchBuffer: 0}, {Lat: 0.2, Lon: 0, SearchBuffer: 500},
		{Lat: 0.9999, Lon: -180, SearchBuffer: 50},
		{Lat: 89.995, Lon: 179.99, SearchBuffer: 50}, {Lat: 89.995, Lon: -179.99, SearchBuffer: 500},
	} {
		want := Evaluate(fences, q)
		if msg := compareResults(ix.Evaluate(q), want); msg != "" {
			t.Errorf("lat %v lon %v buffer %v: %s", q.Lat, q.Lon, q.SearchBuffer, msg)
		}
		// The seam at ±180 is no border: inside a band, the border is
		// its north or south side, whichever is nearer.
		for _, g := range want.Geometries {
			if g.GeometryID == "cap" || q.Lat > 1 {
				continue
			}
			if g.Distance >= 0 || math.Abs(g.NearestLat-math.Copysign(1, q.Lat)) > 1e-9 {
				t.Errorf("lat %v lon %v: fence %s: distance %v, nearest point %v,%v; want inside, nearest at latitude %v", q.Lat, q.Lon, g.GeometryID, g.Distance, g.NearestLat, g.NearestLon, math.Copysign(1, q.Lat))
			}
		}
	}
}

// TestIndexFenceWithoutPositions: a fence with no position (which
// validation rejects) is never near, and does not upset the others.
func TestIndexFenceWithoutPositions(t *testing.T) {
	fences := []Fence{
		{GeometryID: "empty", Kind: KindPolygon, Geometry: orb.Polygon{}},
		{GeometryID: "box", Kind: KindPolygon, Geometry: orb.Polygon{{{10, 50}, {10.01, 50}, {10.01, 50.01}, {10, 50.01}, {10, 50}}}},
		{GeometryID: "no points", Kind: KindPoint, Geometry: orb.MultiPoint{}, Radius: 100},
	}
	res := NewIndex(fences).Evaluate(Query{Lat: 50.005, Lon: 10.005, SearchBuffer: 500})
	if len(res.Geometries) != 1 || res.Geometries[0].GeometryID != "box" || !Inside(res.Geometries[0].Distance) {
		t.Errorf("answers %+v, want box alone, inside", res.Geometries)
	}
}

// TestCapsulesBoundTheirEdges: no capsule, of a chunk or of a node of a
// fence's tree, may claim its edges are farther from a position than the
// nearest of them is, or the search would skip the nearest border point.
// Jagged runs at high latitudes, asked from nearer the equator (where
// the longitude scale is larger than the fence's), are the hard case.
func TestCapsulesBoundTheirEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	checked := 0
	for trial := range 40 {
		lat0 := -85 + rng.Float64()*170
		lon0 := -179 + rng.Float64()*358
		// A random walk: straight stretches, zigzags and hairpins.
		ring := orb.Ring{{lon0, lat0}}
		step := []float64{1e-5, 1e-3, 0.05}[trial%3]
		for range 40 + rng.IntN(400) {
			last := ring[len(ring)-1]
			heading := rng.Float64() * 2 * math.Pi
			if rng.IntN(3) > 0 && len(ring) > 1 { // mostly keep going
				prev := ring[len(ring)-2]
				heading = math.Atan2(last[1]-prev[1], last[0]-prev[0]) + (rng.Float64()-0.5)*0.6
			}
			lat := math.Max(-89, math.Min(89, last[1]+step*math.Sin(heading)))
			ring = append(ring, orb.Point{math.Max(-180, math.Min(180, last[0]+step*math.Cos(heading))), lat})
		}
		ring = append(ring, ring[0])
		var e edgeIndex
		f := Fence{GeometryID: "walk", Kind: KindPolygon, Geometry: orb.Polygon{ring}}
		e.build(f, fenceParts(f))
		for range 200 {
			spread := []float64{0.001, 0.1, 5}[rng.IntN(3)]
			q := ring[rng.IntN(len(ring))]
			lat := math.Max(-89.9, math.Min(89.9, q[1]+(rng.Float64()-0.5)*2*spread))
			p := newProjection(lat, wrapLon(q[0]+(rng.Float64()-0.5)*2*spread))
			rs := e.capsuleScale(p)
			// The nearest edge of some chunks, and the capsule's claim.
			nearestOf := func(chunks []chunk) float64 {
				best := math.Inf(1)
				for i := range chunks {
					c := &chunks[i]
					pts := e.ring(c)
					for j := c.from; j < c.to; j++ {
						x, y, _ := p.segmentNearest(pts[j], pts[j+1])
						best = min(best, math.Hypot(x, y))
					}
				}
				return best
			}
			if e.tree == nil {
				continue // a small fence's capsules are not read
			}
			chunks := e.chunks()
			for i := range chunks {
				d := nearestOf(chunks[i : i+1])
				if p.nearTurn(chunks[i].box) && e.chunkBeyond(p, rs, i, math.Pow(d*(1+1e-9)+1e-6, 2)) {
					t.Fatalf("trial %d: chunk %d's capsule puts its edges beyond %.6f m, the nearest of them", trial, i, d)
				}
				checked++
			}
			span := 1
			for l := 1; l < len(e.tree.levels); l++ {
				span *= nodeSize
				for j, c := range e.caps[l] {
					d := nearestOf(chunks[j*span : min((j+1)*span, len(chunks))])
					if p.nearTurn(e.tree.levels[l][j]) && e.capsuleBeyond(p, &c, rs, math.Pow(d*(1+1e-9)+1e-6, 2)) {
						t.Fatalf("trial %d: level %d node %d's capsule puts its edges beyond %.6f m, the nearest of them", trial, l, j, d)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d capsules checked", checked)
}
