package geofence

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// ringShapeProblem says what makes a closed ring unusable as the border of
// an area, or "" when nothing does. Its edges are read the short way across
// the antimeridian, as evaluation reads them.
func ringShapeProblem(r orb.Ring) string {
	pts, turns := unwrapRing(r)
	if turns != 0 {
		return "read with every edge taking the short way across the antimeridian, the ring goes all the way round the globe (it encloses a pole), so it does not bound one area"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = min(lo, p.x), max(hi, p.x)
	}
	if hi-lo > 360 {
		return fmt.Sprintf("read with every edge taking the short way across the antimeridian, the ring spans %.6g° of longitude, so it overlaps itself round the globe", hi-lo)
	}
	pts = distinctVertices(pts)
	if len(pts) < 3 {
		return fmt.Sprintf("the ring has %d distinct position(s), so it encloses no area", max(len(pts), 1))
	}
	if starShaped(pts) {
		return ""
	}
	if c, ok := selfCrossing(pts); ok {
		return fmt.Sprintf("the ring crosses itself: edge %d (positions %d to %d) and edge %d (positions %d to %d) meet at about [%.6f, %.6f]",
			c.edgeA, c.edgeA, c.edgeA+1, c.edgeB, c.edgeB, c.edgeB+1, wrapLon(c.at.x), c.at.y)
	}
	return ""
}

// vertex is a ring position in the unwrapped plane: x is the longitude
// plus whole turns, y the latitude, and edge the index of the position in
// the ring, which starts the edge that leaves it.
type vertex struct {
	x, y float64
	edge int
}

// unwrapRing walks a closed ring, taking each edge the short way across the
// antimeridian, and returns its positions without the closing one, and the
// net number of turns the walk makes round the globe.
func unwrapRing(r orb.Ring) ([]vertex, int) {
	if len(r) < 2 {
		return nil, 0
	}
	pts := make([]vertex, 0, len(r)-1)
	off := 0.0
	for i, p := range r[:len(r)-1] {
		if i > 0 {
			off += shortTurn(r[i-1][0], p[0])
		}
		pts = append(pts, vertex{x: p[0] + off, y: p[1], edge: i})
	}
	off += shortTurn(r[len(r)-2][0], r[len(r)-1][0])
	return pts, int(math.Round(off / 360))
}

// distinctVertices drops a position repeated straight after itself (the
// edge between them has no length), keeping the last of each run so that
// every kept vertex starts the edge that leaves it.
func distinctVertices(pts []vertex) []vertex {
	out := make([]vertex, 0, len(pts))
	for i, p := range pts {
		next := pts[(i+1)%len(pts)]
		if p.x != next.x || p.y != next.y {
			out = append(out, p)
		}
	}
	return out
}

// starShaped reports whether the ring is seen whole from the mean of its
// vertices, turning round it the same way at every edge, by less than
// half a turn each, and once round in all. Such a ring cannot cross
// itself: each edge lies in its own wedge from that point, and only
// neighbours share a wedge's side. Most fences are drawn so, and this
// costs a fraction of selfCrossing's sweep. Turns too small to tell from
// rounding error answer false, leaving the ring to the sweep.
func starShaped(pts []vertex) bool {
	var c vertex
	for _, p := range pts {
		c.x += p.x
		c.y += p.y
	}
	c.x /= float64(len(pts))
	c.y /= float64(len(pts))
	const margin = 1e-9
	var ccw, cw, upCCW, downCW int
	for i, a := range pts {
		b := pts[(i+1)%len(pts)]
		ax, ay, bx, by := a.x-c.x, a.y-c.y, b.x-c.x, b.y-c.y
		cross := ax*by - ay*bx
		scale := margin * (math.Abs(ax) + math.Abs(ay)) * (math.Abs(bx) + math.Abs(by))
		switch {
		case cross > scale:
			ccw++
		case cross < -scale:
			cw++
		default:
			return false
		}
		// Each turn round c crosses the ray due east of c once, going
		// up when counterclockwise, down when clockwise.
		if a.y < c.y && c.y <= b.y {
			upCCW++
		}
		if b.y < c.y && c.y <= a.y {
			downCW++
		}
	}
	n := len(pts)
	return (ccw == n && upCCW == 1) || (cw == n && downCW == 1)
}

// crossing is where two edges of a ring meet.
type crossing struct {
	edgeA, edgeB int
	at           vertex
}

// selfCrossing finds two edges of a ring that meet other than at the
// vertex they share: a proper crossing, a vertex touching another edge or
// vertex (a figure-eight), or adjacent edges doubling back along each
// other. Candidate pairs are pruned by a sweep along one axis: edges are
// sorted by where they start and compared only with those still open. This
// is near n log n for the rings geofences use; its worst case, many long
// edges open at once, is quadratic, so the sweep runs along the axis in
// which the edges are shortest relative to the ring, which keeps
// axis-aligned combs cheap (a comb of long diagonal teeth is not).
func selfCrossing(pts []vertex) (crossing, bool) {
	n := len(pts)
	// Adjacent edges meet beyond their shared vertex only by doubling back.
	for i := range pts {
		a, v, b := pts[(i+n-1)%n], pts[i], pts[(i+1)%n]
		if orient(a, v, b) == 0 && (v.x-a.x)*(b.x-v.x)+(v.y-a.y)*(b.y-v.y) < 0 {
			return crossing{edgeA: min(a.edge, v.edge), edgeB: max(a.edge, v.edge), at: v}, true
		}
	}
	if n == 3 {
		return crossing{}, false // every pair of edges is adjacent
	}
	// Sweep along the axis in which the edges are shortest relative to
	// the ring's extent; swapping x and y changes no answer.
	var sumX, sumY float64
	loX, hiX, loY, hiY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, p := range pts {
		q := pts[(i+1)%n]
		sumX += math.Abs(q.x - p.x)
		sumY += math.Abs(q.y - p.y)
		loX, hiX, loY, hiY = min(loX, p.x), max(hiX, p.x), min(loY, p.y), max(hiY, p.y)
	}
	swap := sumX*(hiY-loY) > sumY*(hiX-loX)
	at := func(i int) vertex {
		p := pts[i%n]
		if swap {
			p.x, p.y = p.y, p.x
		}
		return p
	}
	type span struct {
		lo, hi, ylo, yhi float64
		i                int
	}
	// The spans are visited in order of lo through a sorted list of small
	// keys: sorting the spans themselves, 40 bytes each, took a third of
	// the sweep's time.
	type spanKey struct {
		lo float64
		i  int
	}
	spans, order := make([]span, n), make([]spanKey, n)
	for i := range spans {
		a, b := at(i), at(i+1)
		spans[i] = span{lo: min(a.x, b.x), hi: max(a.x, b.x), ylo: min(a.y, b.y), yhi: max(a.y, b.y), i: i}
		order[i] = spanKey{lo: spans[i].lo, i: i}
	}
	slices.SortFunc(order, func(a, b spanKey) int { return cmp.Compare(a.lo, b.lo) })
	var open []span
	for _, k := range order {
		s := spans[k.i]
		// One pass both drops the spans s is past and checks the rest.
		kept := open[:0]
		for _, o := range open {
			if o.hi < s.lo {
				continue
			}
			kept = append(kept, o)
			if o.yhi < s.ylo || s.yhi < o.ylo || (o.i+1)%n == s.i || (s.i+1)%n == o.i {
				continue
			}
			if p, ok := segmentsMeet(at(o.i), at(o.i+1), at(s.i), at(s.i+1)); ok {
				if swap {
					p.x, p.y = p.y, p.x
				}
				a, b := pts[o.i].edge, pts[s.i].edge
				return crossing{edgeA: min(a, b), edgeB: max(a, b), at: p}, true
			}
		}
		open = append(kept, s)
	}
	return crossing{}, false
}

// orient is twice the signed area of the triangle a, b, c: positive when c
// is left of the line from a to b, zero when the three are collinear.
func orient(a, b, c vertex) float64 {
	return (b.x-a.x)*(c.y-a.y) - (b.y-a.y)*(c.x-a.x)
}

// segmentsMeet reports whether the closed segments ab and cd have a point
// in common, and one such point.
func segmentsMeet(a, b, c, d vertex) (vertex, bool) {
	d1, d2 := orient(c, d, a), orient(c, d, b)
	d3, d4 := orient(a, b, c), orient(a, b, d)
	if (d1 > 0 && d2 < 0 || d1 < 0 && d2 > 0) && (d3 > 0 && d4 < 0 || d3 < 0 && d4 > 0) {
		t := d1 / (d1 - d2)
		return vertex{x: a.x + t*(b.x-a.x), y: a.y + t*(b.y-a.y)}, true
	}
	switch {
	case d3 == 0 && within(a, b, c):
		return c, true
	case d4 == 0 && within(a, b, d):
		return d, true
	case d1 == 0 && within(c, d, a):
		return a, true
	case d2 == 0 && within(c, d, b):
		return b, true
	}
	return vertex{}, false
}

// within reports whether p, collinear with a and b, lies between them.
func within(a, b, p vertex) bool {
	return min(a.x, b.x) <= p.x && p.x <= max(a.x, b.x) && min(a.y, b.y) <= p.y && p.y <= max(a.y, b.y)
}
