package geofence

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// Index answers positions against many fences. A packed R-tree over the
// fences' bounding boxes finds the few a position can be near, and each
// fence with many vertices keeps one over its edges, so that the nearest
// border point, and with it containment, costs a search rather than a
// pass over every vertex. The answers are Evaluate's, less the fences a
// position is farther than the search buffer outside of. An Index is
// read-only once built and safe for concurrent use.
type Index struct {
	fences []Fence
	edges  []*edgeIndex // per fence; nil where a pass is as cheap
	tree   *packedTree
	lo, hi float64 // the longitudes the fences' boxes span, unwrapped
	// timed lists the fences with a validityTime, which every answer
	// reports when they have expired or are out of period, near or not.
	timed []int
}

// manyVertices is where an edge index starts to pay for its memory (about
// 30 bytes an edge): below it, a pass over the vertices is about as fast
// (BenchmarkCity10000Fences, at 100 vertices a fence, with either).
const manyVertices = 128

// NewIndex indexes fences for Index.Evaluate.
func NewIndex(fences []Fence) *Index {
	ix := &Index{fences: fences, edges: make([]*edgeIndex, len(fences)), lo: math.Inf(1), hi: math.Inf(-1)}
	boxes := make([]box, len(fences))
	for i, f := range fences {
		if f.Validity != nil {
			ix.timed = append(ix.timed, i)
		}
		parts := fenceParts(f)
		lo, hi, n := bounds(parts)
		if n >= manyVertices {
			ix.edges[i] = newEdgeIndex(f, parts)
		}
		if f.Kind != KindPolygon {
			lo, hi = grow(lo, hi, f.Radius)
		}
		ix.lo, ix.hi = min(ix.lo, lo[0]), max(ix.hi, hi[0])
		boxes[i] = newBox(lo[0], lo[1], hi[0], hi[1])
	}
	ix.tree = newPackedTree(boxes)
	return ix
}

// Len is the number of fences.
func (ix *Index) Len() int { return len(ix.fences) }

// Evaluate is Evaluate(fences, q) for the indexed fences, with one
// difference: a fence the position is more than q.SearchBuffer outside of
// is left out, where Evaluate lists it at distance Far. With thousands of
// fences, those are nearly all of them.
func (ix *Index) Evaluate(q Query) Result {
	res := Result{Geometries: []GeometryResult{}, ExpiredGeofenceGeometryID: []string{}, InvalidPeriodGeofenceGeometryID: []string{}}
	for _, i := range ix.timed {
		switch ix.fences[i].Validity.at(q.UserTime) {
		case expired:
			res.ExpiredGeofenceGeometryID = append(res.ExpiredGeofenceGeometryID, ix.fences[i].GeometryID)
		case outOfPeriod:
			res.InvalidPeriodGeofenceGeometryID = append(res.InvalidPeriodGeofenceGeometryID, ix.fences[i].GeometryID)
		}
	}
	for _, i := range ix.near(q) {
		f := ix.fences[i]
		if f.Validity != nil && f.Validity.at(q.UserTime) != active {
			continue
		}
		g := measure(f, ix.edges[i], q)
		if g.Distance != Far {
			res.Geometries = append(res.Geometries, g)
		}
	}
	return res
}

// near lists, in order, the fences whose box, grown by the search buffer,
// holds the position, on whichever turn of the globe the box lies.
func (ix *Index) near(q Query) []int32 {
	buffer := q.SearchBuffer*1.01 + 1 // the margin of lonSpan
	dlat := buffer / (earthRadius * math.Pi / 180)
	dlon := lonSpan(math.Abs(q.Lat)+dlat, buffer)
	var ids []int32
	for _, turn := range [...]float64{0, -360, 360} {
		lo, hi := q.Lon+turn-dlon, q.Lon+turn+dlon
		if hi < ix.lo || lo > ix.hi {
			continue
		}
		ix.tree.search(newBox(lo, q.Lat-dlat, hi, q.Lat+dlat), func(id int32) {
			ids = append(ids, id)
		})
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// grow widens a box by metres: exactly in latitude, and in longitude by
// what those metres are at the box's edge nearest a pole.
func grow(lo, hi [2]float64, metres float64) ([2]float64, [2]float64) {
	if metres <= 0 {
		return lo, hi
	}
	dlat := metres / (earthRadius * math.Pi / 180)
	lo[1], hi[1] = lo[1]-dlat, hi[1]+dlat
	dlon := lonSpan(max(math.Abs(lo[1]), math.Abs(hi[1])), metres)
	lo[0], hi[0] = lo[0]-dlon, hi[0]+dlon
	return lo, hi
}

// lonSpan is how many degrees of longitude metres cover at a latitude,
// with a margin for the difference between the projection and the
// great-circle distance, and the whole way round near a pole.
func lonSpan(lat, metres float64) float64 {
	kx := earthRadius * math.Pi / 180 * math.Cos(math.Min(lat, 90)*math.Pi/180)
	if kx*360 <= metres*1.01+1 {
		return 360
	}
	return (metres*1.01 + 1) / kx
}

// part is one ring of a polygon, or one line or point.
type part struct {
	pts []orb.Point // the fence's own, not a copy
	// turns is, per vertex, the turns of the globe added to its longitude
	// as the ring is walked the short way across the antimeridian (as
	// ringContains walks it); nil when it never crosses.
	turns   []int8
	polygon int  // which polygon of the fence; -1 for lines and points
	hole    bool // a ring after the first of its polygon
	// left is +1 when the fence's inside lies left of the ring as
	// walked, -1 when right.
	left float64
}

func (p *part) lon(i int) float64 {
	if p.turns == nil {
		return p.pts[i][0]
	}
	return p.pts[i][0] + 360*float64(p.turns[i])
}

// edge is where an edge's ends are; a point is an edge from itself to
// itself.
func (p *part) edge(i int32) (a, b orb.Point) {
	a = p.pts[i]
	if int(i)+1 < len(p.pts) {
		return a, p.pts[i+1]
	}
	return a, a
}

func (p *part) edges() int {
	return max(1, len(p.pts)-1)
}

// fenceParts lists a fence's rings, lines and points, with the
// antimeridian unwrapped and each ring's orientation.
func fenceParts(f Fence) []part {
	var parts []part
	addRing := func(pts []orb.Point, polygon int, hole bool) {
		p := part{pts: pts, polygon: polygon, hole: hole}
		turns := make([]int8, len(pts))
		crosses := false
		for i := 1; i < len(pts); i++ {
			turns[i] = turns[i-1] + int8(shortTurn(pts[i-1][0], pts[i][0])/360)
			crosses = crosses || turns[i] != 0
		}
		if crosses {
			p.turns = turns
		}
		if polygon >= 0 {
			area := 0.0 // twice the signed area, in degrees unwrapped
			for i := 1; i < len(pts); i++ {
				area += p.lon(i-1)*pts[i][1] - p.lon(i)*pts[i-1][1]
			}
			p.left = 1
			if (area < 0) != hole {
				p.left = -1
			}
		}
		parts = append(parts, p)
	}
	switch g := f.Geometry.(type) {
	case orb.Polygon:
		for ri, r := range g {
			addRing(r, 0, ri > 0)
		}
	case orb.MultiPolygon:
		for pi, poly := range g {
			for ri, r := range poly {
				addRing(r, pi, ri > 0)
			}
		}
	case orb.Point:
		addRing([]orb.Point{g}, -1, false)
	case orb.MultiPoint:
		for i := range g {
			addRing(g[i:i+1], -1, false)
		}
	case orb.LineString:
		addRing(g, -1, false)
	case orb.MultiLineString:
		for _, ls := range g {
			addRing(ls, -1, false)
		}
	}
	return parts
}

// bounds is the box of every part, unwrapped, and the number of vertices.
func bounds(parts []part) (lo, hi [2]float64, n int) {
	lo, hi = [2]float64{math.Inf(1), math.Inf(1)}, [2]float64{math.Inf(-1), math.Inf(-1)}
	for _, p := range parts {
		n += len(p.pts)
		for i, pt := range p.pts {
			x := p.lon(i)
			lo = [2]float64{min(lo[0], x), min(lo[1], pt[1])}
			hi = [2]float64{max(hi[0], x), max(hi[1], pt[1])}
		}
	}
	return lo, hi, n
}

// edgeRef names an edge: its part, and its first vertex there.
type edgeRef struct{ part, i int32 }

// edgeIndex holds a fence's edges in a packed R-tree keyed by their
// unwrapped boxes.
type edgeIndex struct {
	parts []part
	refs  []edgeRef
	tree  *packedTree
	// oneRing is a polygon of one ring, which validation has found simple:
	// its inside is read from the side of the nearest border point. With
	// holes or several polygons, whose rings may touch, the ray is cast.
	oneRing bool
}

func newEdgeIndex(f Fence, parts []part) *edgeIndex {
	e := &edgeIndex{parts: parts, oneRing: f.Kind == KindPolygon && len(parts) == 1}
	if lo, hi, _ := bounds(parts); hi[0]-lo[0] >= 360 {
		// A ring the whole way round meets itself at ±180, where its
		// edges coincide in opposite directions: the side of the nearest
		// one says nothing.
		e.oneRing = false
	}
	var boxes []box
	for pi := range parts {
		p := &parts[pi]
		for i := range p.edges() {
			e.refs = append(e.refs, edgeRef{int32(pi), int32(i)})
			j := min(i+1, len(p.pts)-1)
			ax, bx := p.lon(i), p.lon(j)
			boxes = append(boxes, newBox(min(ax, bx), min(p.pts[i][1], p.pts[j][1]), max(ax, bx), max(p.pts[i][1], p.pts[j][1])))
		}
	}
	e.tree = newPackedTree(boxes)
	return e
}

// nearest is the border point nearest the query point in projected
// metres, the edge it is on, and where along it (0 at its start, 1 at its
// end).
func (e *edgeIndex) nearest(p projection) (x, y, t float64, ref edgeRef) {
	id := e.tree.nearest(p.boxDist2, func(id int32) float64 {
		r := e.refs[id]
		x, y, _ := p.segmentNearest(e.parts[r.part].edge(r.i))
		return x*x + y*y
	})
	ref = e.refs[id]
	x, y, t = p.segmentNearest(e.parts[ref.part].edge(ref.i))
	return x, y, t, ref
}

// distance is Distance for an indexed fence.
func (e *edgeIndex) distance(f Fence, p projection) (float64, orb.Point) {
	x, y, t, ref := e.nearest(p)
	if f.Kind != KindPolygon {
		return p.buffered(x, y, f.Radius)
	}
	inside, ok := false, false
	if e.oneRing {
		inside, ok = e.sideOf(p, x, y, t, ref)
	}
	if !ok {
		inside = e.contains(orb.Point{p.lon0, p.lat0})
	}
	return p.signed(x, y, inside)
}

// sideOf reads whether the query point is inside a simple ring from the
// side of the border it faces at its nearest point (x, y): the segment
// between them crosses no other edge, or that edge would be nearer. At a
// vertex, both edges that meet there decide. It is not ok where the
// border doubles back on itself.
func (e *edgeIndex) sideOf(p projection, x, y, t float64, ref edgeRef) (inside, ok bool) {
	pt := &e.parts[ref.part]
	cross := func(ax, ay, bx, by float64) float64 { return (ax*by - ay*bx) * pt.left }
	if t > 0 && t < 1 {
		ax, ay, bx, by := p.edgeXY(pt.edge(ref.i))
		return cross(bx-ax, by-ay, -x, -y) > 0, true
	}
	// At a vertex v, between the edges from u and to w. The ring is
	// closed, so its first vertex is also its last.
	i := int(ref.i)
	if t >= 1 {
		i++
	}
	n := len(pt.pts)
	prev, next := i-1, i+1
	if i == 0 || i == n-1 {
		prev, next = n-2, 1
	}
	ux, uy, v1x, v1y := p.edgeXY(pt.pts[prev], pt.pts[i])
	v2x, v2y, wx, wy := p.edgeXY(pt.pts[i], pt.pts[next])
	d1x, d1y, d2x, d2y := v1x-ux, v1y-uy, wx-v2x, wy-v2y
	turn := cross(d1x, d1y, d2x, d2y)
	if (d1x == 0 && d1y == 0) || (d2x == 0 && d2y == 0) || (turn == 0 && d1x*d2x+d1y*d2y < 0) {
		return false, false
	}
	l1 := cross(d1x, d1y, -v1x, -v1y) > 0
	l2 := cross(d2x, d2y, -v2x, -v2y) > 0
	if turn > 0 { // a corner that turns towards the inside
		return l1 && l2, true
	}
	return l1 || l2, true
}

// contains is polygonContains over every polygon of the fence, with the
// ray cast only against the edges that reach the position's latitude east
// of it.
func (e *edgeIndex) contains(pt orb.Point) bool {
	type parity struct {
		part int32
		in   [3]bool
	}
	var crossed []parity
	const slack = 1e-6 // degrees: x below is computed, so may pass its box by a rounding
	for k, c := range [...]float64{pt[0], pt[0] - 360, pt[0] + 360} {
		e.tree.search(newBox(c-slack, pt[1], math.Inf(1), pt[1]), func(id int32) {
			r := e.refs[id]
			p := &e.parts[r.part]
			if p.polygon < 0 || int(r.i)+1 >= len(p.pts) {
				return
			}
			// ringContains tests the edge from its later vertex, a there.
			a, b := p.pts[r.i+1], p.pts[r.i]
			ax, bx := p.lon(int(r.i)+1), p.lon(int(r.i))
			if (a[1] > pt[1]) == (b[1] > pt[1]) {
				return
			}
			if x := (bx-ax)*(pt[1]-a[1])/(b[1]-a[1]) + ax; c < x {
				j := slices.IndexFunc(crossed, func(q parity) bool { return q.part == r.part })
				if j < 0 {
					crossed = append(crossed, parity{part: r.part})
					j = len(crossed) - 1
				}
				crossed[j].in[k] = !crossed[j].in[k]
			}
		})
	}
	in := func(part int) bool {
		for _, q := range crossed {
			if int(q.part) == part {
				return q.in[0] || q.in[1] || q.in[2]
			}
		}
		return false
	}
	for pi, p := range e.parts {
		if p.hole || !in(pi) {
			continue
		}
		inHole := false
		for h := pi + 1; h < len(e.parts) && e.parts[h].hole && e.parts[h].polygon == p.polygon; h++ {
			if in(h) {
				inHole = true
				break
			}
		}
		if !inHole {
			return true
		}
	}
	return false
}

// boxDist2 is the squared projected distance from the query point to the
// nearest copy of a box of longitudes and latitudes: never more than the
// distance to any point in it, whichever turn of the globe it lies on.
func (p projection) boxDist2(b box) float64 {
	dx := 0.0
	if w := float64(b.maxX) - float64(b.minX); w < 360 {
		// east is how far east of the box's west side the point lies, on
		// the nearest turn west of it.
		east := p.lon0 - float64(b.minX)
		for east < 0 {
			east += 360
		}
		for east >= 360 {
			east -= 360
		}
		if east > w {
			dx = min(east-w, 360-east)
		}
	}
	dy := 0.0
	switch {
	case p.lat0 < float64(b.minY):
		dy = float64(b.minY) - p.lat0
	case p.lat0 > float64(b.maxY):
		dy = p.lat0 - float64(b.maxY)
	}
	dx, dy = dx*p.kx, dy*p.ky
	return dx*dx + dy*dy
}
