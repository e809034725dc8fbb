package geofence

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
)

// polygon1000 is a 1,000-vertex ring around (10, 50), about 2 km across,
// with a wavy border so no vertex is redundant.
func polygon1000() Fence {
	ring := make(orb.Ring, 0, 1001)
	for i := range 1000 {
		a := 2 * math.Pi * float64(i) / 1000
		r := 0.01 * (1 + 0.1*math.Sin(7*a))
		ring = append(ring, orb.Point{10 + r*math.Cos(a)*1.5, 50 + r*math.Sin(a)})
	}
	ring = append(ring, ring[0])
	return Fence{GeometryID: "p", Kind: KindPolygon, Geometry: orb.Polygon{ring}}
}

// BenchmarkEvaluatePolygon1000 is geofence throughput: positions per
// second against one 1,000-vertex polygon, alternating inside and outside.
func BenchmarkEvaluatePolygon1000(b *testing.B) {
	fences := []Fence{polygon1000()}
	queries := []Query{
		{Lat: 50, Lon: 10, SearchBuffer: 500},
		{Lat: 50.005, Lon: 10.02, SearchBuffer: 500},
		{Lat: 50.02, Lon: 10, SearchBuffer: 500},
	}
	var sink float64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := Evaluate(fences, queries[i%len(queries)])
		sink += res.Geometries[0].Distance
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	if sink == 0 {
		b.Fatal("no distances")
	}
}

// BenchmarkParse is validation speed on the guide's sample.
func BenchmarkParse(b *testing.B) {
	data := []byte(guideSample)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}
