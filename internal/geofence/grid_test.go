package geofence

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
)

// TestGridMatchesTree checks that the grid finds the same fences near a
// position as the R-tree, and that it stands aside where it would list
// too many fences a cell.
func TestGridMatchesTree(t *testing.T) {
	world := Fence{Kind: KindPolygon, Geometry: orb.Polygon{{{-180, -85}, {180, -85}, {180, 85}, {-180, 85}, {-180, -85}}}}
	withWorld := func(fences []Fence, n int) []Fence {
		for i := range n {
			w := world
			w.GeometryID = "world" + strconv.Itoa(i)
			fences = append(fences, w)
		}
		return fences
	}
	scattered := func(n int, lonSpan, latSpan float64, centres ...[2]float64) []Fence {
		rng := rand.New(rand.NewPCG(3, 4))
		var fences []Fence
		for i := range n {
			c := centres[i%len(centres)]
			lon, lat := c[0]+(rng.Float64()-0.5)*lonSpan, c[1]+(rng.Float64()-0.5)*latSpan
			ring := wavyRing(lon, lat, 0.001, 0.0007, 12, 0.1, i)
			fences = append(fences, Fence{GeometryID: strconv.Itoa(i), Kind: KindPolygon, Geometry: orb.Polygon{ring}})
		}
		return fences
	}
	tests := []struct {
		name   string
		fences []Fence
		grid   int // 1: a grid is built; -1: none; 0: either
	}{
		{"city", cityFences(2000, 20), 1},
		{"city and a fence round the world", withWorld(cityFences(2000, 20), 1), 1},
		{"city and many fences round the world", withWorld(cityFences(2000, 20), gridMaxLarge+1), -1},
		{"two cities far apart", scattered(2000, 0.2, 0.2, [2]float64{10, 50}, [2]float64{-120, 35}), -1},
		{"over the globe", scattered(2000, 340, 160, [2]float64{0, 0}), 0},
		{"across the antimeridian", scattered(2000, 0.3, 0.2, [2]float64{179.9, -17}), 0},
		{"differential", differentialFences(rand.New(rand.NewPCG(1, 2))), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := NewIndex(tt.fences)
			if got := ix.grid != nil; (tt.grid == 1 && !got) || (tt.grid == -1 && got) {
				t.Fatalf("grid built: %v, want %v", got, tt.grid == 1)
			}
			t.Logf("grid built: %v", ix.grid != nil)
			if ix.grid == nil {
				return
			}
			tree := *ix
			tree.grid = nil
			var gridded int
			for i, q := range positionsOver(tt.fences, 5000, 0) {
				q.SearchBuffer = []float64{0, 10, 50, 200, 500, 5000}[i%6]
				got, want := ix.near(q, nil), tree.near(q, nil)
				slices.Sort(got)
				slices.Sort(want)
				got, want = slices.Compact(got), slices.Compact(want)
				if !slices.Equal(got, want) {
					t.Fatalf("near %+v: got %v, want %v", q, got, want)
				}
				if _, ok := ix.grid.appendSearch(newBox(q.Lon, q.Lat, q.Lon, q.Lat), nil); ok {
					gridded++
				}
			}
			if gridded == 0 {
				t.Fatal("no position searched the grid")
			}
			// And the answers through the grid are Evaluate's.
			inside := 0
			for i, q := range positionsOver(tt.fences, 300, 0) {
				q.SearchBuffer = []float64{0, 50, 500}[i%3]
				if i%2 == 0 {
					// Near a fence's centre, inside it; off the very
					// centre, where two edges of a symmetric ring can tie
					// for nearest and either answer is right.
					c := tt.fences[i*7%len(tt.fences)].Geometry.Bound().Center()
					q.Lon, q.Lat = c[0]+0.00013, c[1]+0.00007
				}
				got, want := ix.Evaluate(q), Evaluate(tt.fences, q)
				if msg := compareResults(got, want); msg != "" {
					t.Fatalf("lat=%v lon=%v buffer=%v: %s", q.Lat, q.Lon, q.SearchBuffer, msg)
				}
				for _, g := range got.Geometries {
					if Inside(g.Distance) && g.GeometryID[0] != 'w' {
						inside++
					}
				}
			}
			if inside == 0 {
				t.Fatal("no position inside a fence of the city")
			}
		})
	}
}
