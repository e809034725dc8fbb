package geofence

import (
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// starShaped lets a ring skip the sweep for self-crossings, so it must
// never vouch for a ring that crosses itself. Checked against every pair
// of edges on small rings round a point, where many are star-shaped and
// many cross, and on a coarse grid, where edges touch and overlap.
func TestStarShapedNeverVouchesForACrossing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var vouched, crossed int
	for i := range 50000 {
		n := 3 + rng.IntN(10)
		pts := make([]vertex, n)
		for j := range pts {
			if i%2 == 0 { // round the origin, in any order
				pts[j] = vertex{x: rng.NormFloat64(), y: rng.NormFloat64(), edge: j}
			} else {
				pts[j] = vertex{x: float64(rng.IntN(5)), y: float64(rng.IntN(5)), edge: j}
			}
		}
		pts = distinctVertices(pts)
		if len(pts) < 3 {
			continue
		}
		crosses := crossesByEveryPair(pts)
		if crosses {
			crossed++
		}
		if starShaped(pts) {
			vouched++
			if crosses {
				t.Fatalf("starShaped vouches for %v, which crosses itself", pts)
			}
		}
	}
	if vouched < 1000 || crossed < 1000 {
		t.Errorf("the rings were not varied: %d vouched for, %d crossed", vouched, crossed)
	}
}

// Zones as people draw them take the fast path, in either direction, or
// it would not be worth having.
func TestStarShapedTakesDrawnZones(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	vouched := 0
	const rings = 1000
	for i := range rings {
		r := zoneRing(rng, 100, -170+340*rng.Float64(), -80+160*rng.Float64())
		if i%2 == 1 {
			r.Reverse()
		}
		pts, _ := unwrapRing(r)
		if starShaped(distinctVertices(pts)) {
			vouched++
		}
	}
	if vouched < rings*99/100 {
		t.Errorf("starShaped vouches for %d of %d drawn zones", vouched, rings)
	}
	// A comb is not star-shaped, and still simple: the sweep answers.
	comb := combRing(50)
	pts, _ := unwrapRing(comb)
	if starShaped(distinctVertices(pts)) {
		t.Error("starShaped vouches for a comb")
	}
	if msg := ringShapeProblem(comb); msg != "" {
		t.Errorf("a comb: %s", msg)
	}
	if msg := ringShapeProblem(orb.Ring{{0, 0}, {1, 1}, {1, 0}, {0, 1}, {0, 0}}); msg == "" {
		t.Error("a bow-tie passes")
	}
}
