package geofence

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
	"github.com/tidwall/geojson/geometry"
	"github.com/tidwall/rtree"
)

// cityFences is a city with n zones: polygons of vertices vertices, 100
// to 300 m across, scattered over about 20 by 20 km around (10, 50).
func cityFences(n, vertices int) []Fence {
	rng := rand.New(rand.NewPCG(7, 7))
	fences := make([]Fence, n)
	for i := range fences {
		lon, lat := 10+rng.Float64()*0.28, 50+rng.Float64()*0.18
		rx := 0.0007 + rng.Float64()*0.0014
		ring := wavyRing(lon, lat, rx, rx*0.64, vertices, 0.15, i)
		fences[i] = Fence{GeometryID: strconv.Itoa(i), Kind: KindPolygon, Geometry: orb.Polygon{ring}}
	}
	return fences
}

// bigPolygon is one fence of n vertices, about 6 by 4 km.
func bigPolygon(n int) []Fence {
	ring := wavyRing(10, 50, 0.04, 0.02, n, 0.1, 3)
	return []Fence{{GeometryID: "big", Kind: KindPolygon, Geometry: orb.Polygon{ring}}}
}

// positionsOver are n positions in the fences' box, grown by 0.005°,
// with a search buffer.
func positionsOver(fences []Fence, n int, buffer float64) []Query {
	lo, hi := orb.Point{180, 90}, orb.Point{-180, -90}
	for _, f := range fences {
		b := f.Geometry.Bound()
		lo = orb.Point{min(lo[0], b.Min[0]), min(lo[1], b.Min[1])}
		hi = orb.Point{max(hi[0], b.Max[0]), max(hi[1], b.Max[1])}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	qs := make([]Query, n)
	for i := range qs {
		qs[i] = Query{
			Lon:          lo[0] - 0.005 + rng.Float64()*(hi[0]-lo[0]+0.01),
			Lat:          lo[1] - 0.005 + rng.Float64()*(hi[1]-lo[1]+0.01),
			SearchBuffer: buffer,
		}
	}
	return qs
}

// The goals: 20,000 positions a second against 10,000 fences of 100
// vertices; 50,000 against one polygon of 100,000. Each is measured for
// this index, for a pass over every fence (how Evaluate answered before
// the index), and for Tile38's engine (tidwall/geojson polygons, indexed
// as Tile38 does, found through tidwall/rtree), which answers
// containment alone where ours also measures the distance and the
// nearest border point.
func BenchmarkCity10000Fences(b *testing.B) {
	benchmarkEngines(b, cityFences(10000, 100), 50)
}

// BenchmarkCity10000FencesBuffer0 is the same city with no search
// buffer: the fences measured are those whose box holds the position,
// the ones Tile38's engine tests.
func BenchmarkCity10000FencesBuffer0(b *testing.B) {
	benchmarkEngines(b, cityFences(10000, 100), 0)
}

// BenchmarkCity10000FencesBuffer500 is the same city with the widest
// search buffer, which mapsdevice uses by default: about 25 fences are
// near each position, and each is measured.
func BenchmarkCity10000FencesBuffer500(b *testing.B) {
	benchmarkEngines(b, cityFences(10000, 100), 500)
}

func BenchmarkPolygon100000(b *testing.B) {
	benchmarkEngines(b, bigPolygon(100000), 50)
}

func benchmarkEngines(b *testing.B, fences []Fence, buffer float64) {
	qs := positionsOver(fences, 4096, buffer)
	benchmarkEnginesQs(b, fences, qs)
}

func benchmarkEnginesQs(b *testing.B, fences []Fence, qs []Query) {
	b.Run("index", func(b *testing.B) {
		ix := NewIndex(fences)
		runtime.GC() // so that no collection of what building left runs while timed
		inside, answers := 0, 0
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			gs := ix.Evaluate(qs[i%len(qs)]).Geometries
			answers += len(gs)
			for _, g := range gs {
				if Inside(g.Distance) {
					inside++
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		b.ReportMetric(float64(answers)/float64(b.N), "fences/point")
		if inside == 0 {
			b.Fatal("no position inside a fence")
		}
	})
	b.Run("every-fence", func(b *testing.B) {
		inside := 0
		for i := 0; b.Loop(); i++ {
			for _, g := range Evaluate(fences, qs[i%len(qs)]).Geometries {
				if Inside(g.Distance) {
					inside++
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		if inside == 0 {
			b.Fatal("no position inside a fence")
		}
	})
	b.Run("tile38", func(b *testing.B) {
		var tr rtree.RTreeG[*geometry.Poly]
		for _, f := range fences {
			ring := f.Geometry.(orb.Polygon)[0]
			pts := make([]geometry.Point, len(ring))
			for i, p := range ring {
				pts[i] = geometry.Point{X: p[0], Y: p[1]}
			}
			poly := geometry.NewPoly(pts, nil, geometry.DefaultIndexOptions)
			r := poly.Rect()
			tr.Insert([2]float64{r.Min.X, r.Min.Y}, [2]float64{r.Max.X, r.Max.Y}, poly)
		}
		runtime.GC()
		inside, tested := 0, 0
		for i := 0; b.Loop(); i++ {
			q := qs[i%len(qs)]
			pt := geometry.Point{X: q.Lon, Y: q.Lat}
			tr.Search([2]float64{q.Lon, q.Lat}, [2]float64{q.Lon, q.Lat}, func(_, _ [2]float64, poly *geometry.Poly) bool {
				tested++
				if poly.ContainsPoint(pt) {
					inside++
				}
				return true
			})
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		b.ReportMetric(float64(tested)/float64(b.N), "fences/point")
		if inside == 0 {
			b.Fatal("no position inside a fence")
		}
	})
}
