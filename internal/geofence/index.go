package geofence

import (
	"cmp"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// Index answers positions against many fences. A packed R-tree over the
// fences' bounding boxes, or for a small search buffer a uniform grid,
// finds the few a position can be near. Each fence
// keeps its edges in boxed chunks of chunkEdges, in a packed R-tree of
// their own when there are many, so that the nearest border point, and
// with it containment, costs a search that measures the few edges near
// the position rather than a pass over every vertex. The answers are
// Evaluate's, less the fences a position is farther than the search
// buffer outside of. An Index is read-only once built and safe for
// concurrent use.
type Index struct {
	fences []Fence
	// edges holds the fences' edge indexes in the tree's (Hilbert) order,
	// not the fences': the fences near one position are then mostly
	// neighbours in memory. fenceOf[k] is the fence of edges[k], and the
	// tree's ids are positions in edges. A fence with no position has an
	// empty box, never near.
	edges   []edgeIndex
	fenceOf []int32
	tree    *packedTree
	grid    *grid   // nil when the fences suit no grid
	lo, hi  float64 // the longitudes the fences' boxes span, unwrapped
	// timed lists the fences with a validityTime, which every answer
	// reports when they have expired or are out of period, near or not.
	timed []int
}

// NewIndex indexes fences for Index.Evaluate.
func NewIndex(fences []Fence) *Index {
	ix := &Index{fences: fences, edges: make([]edgeIndex, len(fences)), lo: math.Inf(1), hi: math.Inf(-1)}
	boxes := make([]box, len(fences))
	parts := make([][]part, len(fences))
	for i, f := range fences {
		if f.Validity != nil {
			ix.timed = append(ix.timed, i)
		}
		parts[i] = fenceParts(f)
		lo, hi, _ := bounds(parts[i])
		if f.Kind != KindPolygon {
			lo, hi = grow(lo, hi, f.Radius)
		}
		ix.lo, ix.hi = min(ix.lo, lo[0]), max(ix.hi, hi[0])
		boxes[i] = newBox(lo[0], lo[1], hi[0], hi[1])
	}
	ix.tree = newPackedTree(boxes)
	ix.fenceOf = ix.tree.ids
	ids := make([]int32, len(fences))
	for k, i := range ix.fenceOf {
		if _, _, n := bounds(parts[i]); n > 0 {
			ix.edges[k].build(fences[i], parts[i])
		}
		ids[k] = int32(k)
	}
	ix.tree.ids = ids
	if len(ix.tree.levels) > 0 {
		ix.grid = newGrid(ix.tree.levels[0])
	}
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
	var buf [64]int32
	ids := ix.near(q, buf[:0])
	p := newProjection(q.Lat, q.Lon)
	// First drop the fences whose own box the position is farther than
	// the buffer outside of (near grew the boxes in degrees, with room
	// to spare), reading one small record a fence.
	kept := ids[:0]
	for _, k := range ids {
		e := &ix.edges[k]
		if r := e.reach(q); r > 0 && p.boxDist2(e.box) >= r*r {
			continue
		}
		kept = append(kept, k)
	}
	// In the fences' order, as Evaluate answers, once each: near may find
	// a fence in two cells of its grid, or on two turns.
	slices.SortFunc(kept, func(a, b int32) int { return cmp.Compare(ix.fenceOf[a], ix.fenceOf[b]) })
	kept = slices.Compact(kept)
	for n, k := range kept {
		e := &ix.edges[k]
		if e.timed && ix.fences[ix.fenceOf[k]].Validity.at(q.UserTime) != active {
			continue
		}
		d, nearest, ok := e.distance(p, e.reach(q))
		if !ok {
			continue // farther outside than the buffer
		}
		if g := answer(e.id, d, nearest, q.SearchBuffer); g.Distance != Far {
			res.Geometries = appendAnswer(res.Geometries, g, len(kept)-n)
		}
	}
	return res
}

// appendAnswer appends g to gs, making room at the first for the most
// that can follow: one allocation for all of a position's answers, and
// none when there are none.
func appendAnswer(gs []GeometryResult, g GeometryResult, most int) []GeometryResult {
	if cap(gs) == 0 {
		gs = make([]GeometryResult, 0, most)
	}
	return append(gs, g)
}

// reach is how far outside a fence, in projected metres, a position can
// be and still have an answer within the search buffer; 0 when the
// projection cannot tell. Within 80° of the equator and 5 km of the
// position, the projected distance and the great-circle one differ by
// well under 1%, so the margin (the one lonSpan takes) keeps every
// border point that rounds to within the buffer.
func (e *edgeIndex) reach(q Query) float64 {
	metres := q.SearchBuffer
	if !e.polygon {
		metres += e.radius
	}
	if math.Abs(q.Lat) > 80 || metres > 5000 {
		return 0
	}
	return metres*1.01 + 1
}

// near appends to ids the positions in ix.edges of the fences whose box,
// grown by the search buffer, holds the position, on whichever turn of
// the globe the box lies: in no particular order, and some more than
// once.
func (ix *Index) near(q Query, ids []int32) []int32 {
	buffer := q.SearchBuffer*1.01 + 1 // the margin of lonSpan
	dlat := buffer / (earthRadius * math.Pi / 180)
	dlon := lonSpan(math.Abs(q.Lat)+dlat, buffer)
	for _, turn := range [...]float64{0, -360, 360} {
		lo, hi := q.Lon+turn-dlon, q.Lon+turn+dlon
		if hi < ix.lo || lo > ix.hi {
			continue
		}
		b := newBox(lo, q.Lat-dlat, hi, q.Lat+dlat)
		var ok bool
		if ix.grid != nil {
			ids, ok = ix.grid.appendSearch(b, ids)
		}
		if !ok {
			ids = ix.tree.appendSearch(b, ids)
		}
	}
	return ids
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
	// seam says a ring goes the whole way round the globe: its edges
	// along the meridian at seamLo and seamHi are no border (see seamOf).
	seam           bool
	seamLo, seamHi float64
}

func (p *part) lon(i int) float64 {
	if p.turns == nil {
		return p.pts[i][0]
	}
	return p.pts[i][0] + 360*float64(p.turns[i])
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
			p.seamLo, p.seamHi, p.seam = seamOf(pts)
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

// edgeRef names an edge: its part's vertices, and its first vertex there.
type edgeRef struct {
	pts []orb.Point
	i   int32
}

// edge is where an edge's ends are; a point is an edge from itself to
// itself.
func (r edgeRef) edge() (a, b orb.Point) {
	a = r.pts[r.i]
	if int(r.i)+1 < len(r.pts) {
		return a, r.pts[r.i+1]
	}
	return a, a
}

// chunkEdges is how many consecutive edges of a part share a box. A
// search skips a chunk whose box is farther than the nearest edge found
// so far, and measures the edges of the rest in one plain loop; a border
// runs on, so its chunks' boxes are small and tight. A fence of more
// than one node of chunks of bigChunkEdges has those: its search then
// walks a shallower tree, for a few more edges measured (14% faster on
// the polygon of 100,000 vertices, where the city of small fences ran
// 2-7% slower with them).
const (
	chunkEdges    = 16
	bigChunkEdges = 32
)

// chunkCount is how many chunks of step edges parts have.
func chunkCount(parts []part, step int) int {
	n := 0
	for _, p := range parts {
		if len(p.pts) > 0 {
			n += (p.edges() + step - 1) / step
		}
	}
	return n
}

// chunk is a run of consecutive edges of one part, with its box.
type chunk struct {
	box
	// The chunk's vertices are from to to of its part's: one more than
	// its edges, or the one point of a point.
	from, to int32
	part     int32
	// plain says no edge turns across the antimeridian nor spans more
	// than 180°: next to the position (see scan), its edges project as
	// Evaluate's one-pass ring does, without unwrapping.
	plain bool
}

// capsule bounds a run of a border more tightly than its box: every
// vertex, and so every edge, lies within r of the segment a–b, in
// degrees with longitude scaled by the fence's cosRef. For a position
// far from a smooth border, many boxes along it are nearly as near as its
// nearest edge, and a box can be its half-diagonal nearer than its
// edges, so boxes alone leave dozens of chunks to measure; the distance
// to a capsule, less r, rules nearly all of them out.
type capsule struct{ ax, ay, bx, by, r float32 }

// edgeIndex holds a fence's edges in chunks. A fence of up to nodeSize
// chunks (a ring of 128 edges) keeps them in one list, searched nearest
// box first; a larger one in a packed R-tree keyed by their unwrapped
// boxes.
type edgeIndex struct {
	// First what deciding whether to measure the fence reads, then what
	// measuring it reads: a position's fences are a few among thousands,
	// each likely a miss of the processor's caches, so what is read
	// together is kept together, a small fence's chunks (small) too.
	box     box // the fence's, unwrapped
	radius  float64
	polygon bool
	timed   bool
	// oneRing is a polygon of one ring, which validation has found simple:
	// its inside is read from the side of the nearest border point, left
	// of the ring as walked when left is 1, right when -1. With holes or
	// several polygons, whose rings may touch, the ray is cast.
	oneRing bool
	// flat says every ring is closed and never crosses the antimeridian:
	// a ray cast from a turn west of the fence crosses each ring an even
	// number of times, so contains need not cast it.
	flat  bool
	n     int32 // chunks
	left  float64
	first []orb.Point // the first part's vertices, the one of most fences
	small [nodeSize]chunk
	big   []chunk     // a large fence's chunks, in the tree's order
	tree  *packedTree // nil for a fence of one node
	// sides places positions in a large polygon fence's box; nil for
	// most fences.
	sides *sides
	// caps[l][j] bounds the chunks under node j of the tree's level l,
	// and caps[0][i] the chunk big[i]; r is +Inf where not plain. A small
	// fence has none (see chunkBeyond). A chunk's own capsule spares a
	// search reading its first and last vertices from the fence's points.
	caps [][]capsule
	// cosRef is the cosine of the fence's latitude nearest the equator:
	// a capsule's r, in degrees of latitude, is then never less than the
	// distance it bounds at or poleward of the fence.
	cosRef float64
	id     string
	parts  []part
	step   int32 // edges a chunk: chunkEdges, or bigChunkEdges
}

// build indexes a fence's parts.
func (e *edgeIndex) build(f Fence, parts []part) {
	*e = edgeIndex{
		parts: parts, oneRing: f.Kind == KindPolygon && len(parts) == 1,
		id: f.GeometryID, polygon: f.Kind == KindPolygon, radius: f.Radius, timed: f.Validity != nil,
	}
	if e.oneRing {
		e.left = parts[0].left
	}
	e.flat = true
	for _, p := range parts {
		if p.polygon >= 0 && (p.turns != nil || p.seam || len(p.pts) == 0 || p.pts[0] != p.pts[len(p.pts)-1]) {
			e.flat = false
		}
	}
	if len(parts) > 0 {
		e.first = parts[0].pts
	}
	lo, hi, _ := bounds(parts)
	e.box = newBox(lo[0], lo[1], hi[0], hi[1])
	if hi[0]-lo[0] >= 360 {
		// A ring the whole way round meets itself at ±180, where its
		// edges coincide in opposite directions: the side of the nearest
		// one says nothing.
		e.oneRing = false
	}
	e.cosRef = 1
	if lo[1] > 0 || hi[1] < 0 {
		e.cosRef = math.Cos(min(math.Abs(lo[1]), math.Abs(hi[1])) * math.Pi / 180)
	}
	e.step = chunkEdges
	if chunkCount(parts, bigChunkEdges) > nodeSize {
		e.step = bigChunkEdges
	}
	var chunks []chunk
	for pi := range parts {
		p := &parts[pi]
		if len(p.pts) == 0 {
			continue // no border, as for Evaluate
		}
		for from := 0; from < p.edges(); from += int(e.step) {
			to := min(from+int(e.step), len(p.pts)-1) // the last vertex
			c := chunk{from: int32(from), to: int32(to), part: int32(pi), plain: p.turns == nil && !p.seam && len(p.pts) > 1}
			lo, hi := [2]float64{math.Inf(1), math.Inf(1)}, [2]float64{math.Inf(-1), math.Inf(-1)}
			for i := from; i <= to; i++ {
				x, y := p.lon(i), p.pts[i][1]
				lo, hi = [2]float64{min(lo[0], x), min(lo[1], y)}, [2]float64{max(hi[0], x), max(hi[1], y)}
				if i > from && math.Abs(p.pts[i][0]-p.pts[i-1][0]) > 180 {
					c.plain = false
				}
			}
			c.box = newBox(lo[0], lo[1], hi[0], hi[1])
			chunks = append(chunks, c)
		}
	}
	e.n = int32(len(chunks))
	if len(chunks) <= nodeSize {
		copy(e.small[:], chunks)
		return
	}
	boxes := make([]box, len(chunks))
	for i, c := range chunks {
		boxes[i] = c.box
	}
	e.tree = newPackedTree(boxes)
	// Keep the chunks in the tree's order, so that an item's id is where
	// its chunk is.
	e.big = make([]chunk, len(chunks))
	for i, id := range e.tree.ids {
		e.big[i] = chunks[id]
		e.tree.ids[i] = int32(i)
	}
	span := 1
	e.caps = make([][]capsule, 0, len(e.tree.levels))
	e.caps = append(e.caps, make([]capsule, len(e.big)))
	for i := range e.big {
		e.caps[0][i] = e.capsuleOf(e.big[i : i+1])
	}
	for l := 1; l < len(e.tree.levels); l++ {
		span *= nodeSize
		caps := make([]capsule, len(e.tree.levels[l]))
		for j := range caps {
			caps[j] = e.capsuleOf(e.big[j*span : min((j+1)*span, len(e.big))])
		}
		e.caps = append(e.caps, caps)
	}
	e.sides = newSides(e)
}

// capsuleOf bounds the vertices of chunks by the segment between the two
// farthest apart along the longer side of their box.
func (e *edgeIndex) capsuleOf(chunks []chunk) capsule {
	inf := float32(math.Inf(1))
	b := chunks[0].box
	for i := range chunks {
		if !chunks[i].plain {
			return capsule{r: inf}
		}
		b = b.union(chunks[i].box)
	}
	wide := float64(b.maxX-b.minX)*e.cosRef >= float64(b.maxY-b.minY)
	var a, z orb.Point
	first := true
	for i := range chunks {
		c := &chunks[i]
		for _, v := range e.ring(c)[c.from : c.to+1] {
			if first {
				a, z, first = v, v, false
			}
			if wide && v[0] < a[0] || !wide && v[1] < a[1] {
				a = v
			}
			if wide && v[0] > z[0] || !wide && v[1] > z[1] {
				z = v
			}
		}
	}
	// The ends as they are kept, from the corner of the fence's box, so
	// that r bounds what a search reads: a float32 of a longitude is up
	// to half a metre off, of a few kilometres from the corner, a
	// millimetre.
	ox, oy := e.origin()
	ka := [2]float32{float32(a[0] - ox), float32(a[1] - oy)}
	kz := [2]float32{float32(z[0] - ox), float32(z[1] - oy)}
	a = orb.Point{ox + float64(ka[0]), oy + float64(ka[1])}
	z = orb.Point{ox + float64(kz[0]), oy + float64(kz[1])}
	r := float32(0)
	for i := range chunks {
		c := &chunks[i]
		r = max(r, e.stray(e.ring(c)[c.from:c.to+1], a, z))
	}
	return capsule{ka[0], ka[1], kz[0], kz[1], r}
}

// stray is the farthest any of pts lies from the segment a–b, in degrees
// with longitude scaled by cosRef, rounded up.
func (e *edgeIndex) stray(pts []orb.Point, a, b orb.Point) float32 {
	ax, ay := a[0]*e.cosRef, a[1]
	dx, dy := b[0]*e.cosRef-ax, b[1]-ay
	l2 := dx*dx + dy*dy
	most := 0.0
	for _, v := range pts {
		vx, vy := v[0]*e.cosRef-ax, v[1]-ay
		t := 0.0
		if l2 > 0 {
			t = min(1, max(0, (vx*dx+vy*dy)/l2))
		}
		ex, ey := vx-t*dx, vy-t*dy
		most = max(most, ex*ex+ey*ey)
	}
	// A margin for the rounding of the arithmetic above, far below the
	// 0.1 m the answers are held to.
	r := math.Sqrt(most)*(1+1e-9) + 1e-12
	f := float32(r)
	if float64(f) < r {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// inline says the fence's chunks are in small, and it has no tree: told
// by n, on the record's first line, which tree is not on.
func (e *edgeIndex) inline() bool { return e.n <= nodeSize }

// chunks is the fence's chunks.
func (e *edgeIndex) chunks() []chunk {
	if e.inline() {
		return e.small[:e.n]
	}
	return e.big
}

// ring is the vertices of a chunk's part: the fence's own.
func (e *edgeIndex) ring(c *chunk) []orb.Point {
	if c.part == 0 {
		return e.first
	}
	return e.parts[c.part].pts
}

// nearest is the border point nearest the query point in projected
// metres, the edge it is on, and where along it (0 at its start, 1 at its
// end). It looks no farther than the square root of limit, and is not ok
// when nothing is nearer than that.
func (e *edgeIndex) nearest(p projection, limit float64) (x, y, t float64, ref edgeRef, ok bool) {
	return e.nearestFrom(p, -1, limit, edgeRef{i: -1})
}

// walk is what a search of an edge index keeps as it goes down: the
// scale of its capsules (see capsuleScale), and a chunk measured before
// it began, or -1.
type walk struct {
	rs       float64
	measured int
}

// nearestFrom is nearest, given that chunk measured (or -1 for none) is
// measured already, and its nearest edge is ref, at the square root of
// best from the query point.
func (e *edgeIndex) nearestFrom(p projection, measured int, best float64, ref edgeRef) (x, y, t float64, _ edgeRef, ok bool) {
	if e.inline() {
		best, ref = e.nearestIn(p, walk{0, measured}, 0, int(e.n), best, ref) // no capsules to scale
	} else {
		top := len(e.tree.levels) - 1
		best, ref = e.nearestUnder(p, walk{e.capsuleScale(p), measured}, top, 0, len(e.tree.levels[top]), best, ref)
	}
	if ref.i < 0 {
		return 0, 0, 0, ref, false
	}
	x, y, t = p.segmentNearest(ref.edge())
	return x, y, t, ref, true
}

// nearestUnder searches the nodes from to to of a level of the tree, and
// the nodes and chunks under them, depth first and nearest box first, so
// that the first chunk measured is a near one and what it finds prunes
// the rest: a node no nearer than the best edge so far is skipped. A
// node's capsule is read only when its box would not skip it.
func (e *edgeIndex) nearestUnder(p projection, w walk, level, from, to int, best float64, ref edgeRef) (float64, edgeRef) {
	if level == 0 {
		return e.nearestIn(p, w, from, to, best, ref)
	}
	// The children nearer than best, sorted nearest first as they come.
	var dist [nodeSize]float64
	var order [nodeSize]int
	n := 0
	boxes := e.tree.levels[level][from:to]
	for i := range boxes {
		d := p.boxDist2(boxes[i])
		if d >= best {
			continue
		}
		j := n
		for ; j > 0 && dist[j-1] > d; j-- {
			dist[j], order[j] = dist[j-1], order[j-1]
		}
		dist[j], order[j] = d, i
		n++
	}
	caps := e.caps[level][from:to]
	below := len(e.tree.levels[level-1])
	for m, k := range order[:n] {
		if dist[m] >= best {
			break
		}
		if p.nearTurn(boxes[k]) && e.capsuleBeyond(p, &caps[k], w.rs, best) {
			continue
		}
		c := (from + k) * nodeSize
		best, ref = e.nearestUnder(p, w, level-1, c, min(c+nodeSize, below), best, ref)
	}
	return best, ref
}

// nearestIn measures the chunks from to to, a node's, nearest box
// first, then the rest whose box is nearer than the nearest edge found so
// far, and returns it if it is nearer than best, as scan does. The rest
// go in memory order, which the processor reads ahead, rather than
// nearest first, which jumps about: once the nearest chunk is measured,
// few are left but where the position is amid them, inside a small
// ring, and then nearly all are. A chunk whose box would not skip it is
// skipped still if its capsule is no nearer than the best edge, and the
// chunk measured before the search began is not measured again.
func (e *edgeIndex) nearestIn(p projection, w walk, from, to int, best float64, ref edgeRef) (float64, edgeRef) {
	var dist [nodeSize]float64
	chunks := e.chunks()[from:to]
	k, least := -1, best
	for i := range chunks {
		dist[i] = p.boxDist2(chunks[i].box)
		if dist[i] < least && from+i != w.measured {
			k, least = i, dist[i]
		}
	}
	if k < 0 {
		return best, ref
	}
	if !e.chunkBeyond(p, w.rs, from+k, best) {
		best, ref = e.scan(p, from+k, best, ref)
	}
	for i := range chunks {
		if i != k && dist[i] < best && from+i != w.measured && !e.chunkBeyond(p, w.rs, from+i, best) {
			best, ref = e.scan(p, from+i, best, ref)
		}
	}
	return best, ref
}

// chunkBeyond says a chunk's capsule shows its edges are no nearer than
// the square root of best. A small fence's capsules are not read: a
// position is seldom far from its border, and reading the chord's ends
// cost 13% of BenchmarkCity10000Fences.
func (e *edgeIndex) chunkBeyond(p projection, rs float64, i int, best float64) bool {
	if e.inline() {
		return false
	}
	if !p.nearTurn(e.big[i].box) {
		return false
	}
	return e.capsuleBeyond(p, &e.caps[0][i], rs, best)
}

// nearTurn says a box lies within 180° of longitude of the query point,
// where a plain run of edges projects without unwrapping.
func (p projection) nearTurn(b box) bool {
	return float64(b.minX) >= p.lon0-180 && float64(b.maxX) <= p.lon0+180
}

// capsuleScale turns a capsule's r into projected metres: r is in
// degrees of latitude, and the query's longitude scale over the fence's,
// where it is the larger, stretches it.
func (e *edgeIndex) capsuleScale(p projection) float64 {
	return p.ky * max(1, p.cos0/e.cosRef)
}

// origin is the south-west corner of the fence's box, from which its
// capsules' ends are kept. capsuleOf measures r from the ends as
// origin plus the kept offsets, the same sums a search makes.
func (e *edgeIndex) origin() (float64, float64) {
	return float64(e.box.minX), float64(e.box.minY)
}

// capsuleBeyond says the edges a capsule bounds are no nearer than the
// square root of best.
func (e *edgeIndex) capsuleBeyond(p projection, c *capsule, rs, best float64) bool {
	ox, oy := e.origin()
	return p.runBeyond(float64(c.ax)+ox, float64(c.ay)+oy, float64(c.bx)+ox, float64(c.by)+oy, float64(c.r)*rs, best)
}

// capsuleDist is a lower bound on the distance to the edges a capsule
// bounds, in projected metres.
func (e *edgeIndex) capsuleDist(p projection, c *capsule, rs float64) float64 {
	r := float64(c.r) * rs
	if math.IsInf(r, 1) {
		return 0
	}
	ox, oy := e.origin()
	ax, ay := (float64(c.ax)+ox-p.lon0)*p.kx, (float64(c.ay)+oy-p.lat0)*p.ky
	bx, by := (float64(c.bx)+ox-p.lon0)*p.kx, (float64(c.by)+oy-p.lat0)*p.ky
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = max(0, min(1, -(ax*dx+ay*dy)/l2))
	}
	return max(0, math.Hypot(ax+t*dx, ay+t*dy)-r)
}

// runBeyond says a run of edges within r projected metres of the
// segment a–b (see capsule) is no nearer than the square root of best:
// the segment is at least that plus r away. Like scan, it compares
// without a division.
func (p projection) runBeyond(ax, ay, bx, by, r, best float64) bool {
	if math.IsInf(r, 1) || math.IsInf(best, 1) {
		return false
	}
	far := math.Sqrt(best) + r
	far *= far
	ax, ay = (ax-p.lon0)*p.kx, (ay-p.lat0)*p.ky
	bx, by = (bx-p.lon0)*p.kx, (by-p.lat0)*p.ky
	dx, dy := bx-ax, by-ay
	dot, l2 := -(ax*dx + ay*dy), dx*dx+dy*dy
	switch {
	case dot <= 0 || l2 == 0:
		return ax*ax+ay*ay >= far
	case dot >= l2:
		return bx*bx+by*by >= far
	}
	cross := ax*dy - ay*dx
	return cross*cross >= far*l2
}

// scan measures the edges of chunk i, and returns the least squared
// distance, if it is below best, and its edge; else best and ref as they
// were.
func (e *edgeIndex) scan(p projection, i int, best float64, ref edgeRef) (float64, edgeRef) {
	c := &e.chunks()[i]
	if c.plain && p.nearTurn(c.box) {
		// Every vertex within 180° of the position: nothing wraps, and
		// each vertex is projected once.
		ring := e.ring(c)
		pts := ring[c.from : c.to+1]
		ax, ay := (pts[0][0]-p.lon0)*p.kx, (pts[0][1]-p.lat0)*p.ky
		a2 := ax*ax + ay*ay
		for j := 1; j < len(pts); j++ {
			bx, by := (pts[j][0]-p.lon0)*p.kx, (pts[j][1]-p.lat0)*p.ky
			b2 := bx*bx + by*by
			// The squared distance to the edge, compared without a
			// division: at an end, or, between them, the squared cross
			// product over the squared length. segmentNearest measures
			// the winner after.
			dx, dy := bx-ax, by-ay
			dot, l2 := -(ax*dx + ay*dy), dx*dx+dy*dy
			switch {
			case dot <= 0 || l2 == 0:
				if a2 < best {
					best, ref = a2, edgeRef{ring, c.from + int32(j-1)}
				}
			case dot >= l2:
				if b2 < best {
					best, ref = b2, edgeRef{ring, c.from + int32(j-1)}
				}
			default:
				if cross := ax*dy - ay*dx; cross*cross < best*l2 {
					best, ref = cross*cross/l2, edgeRef{ring, c.from + int32(j-1)}
				}
			}
			ax, ay, a2 = bx, by, b2
		}
		return best, ref
	}
	pt := &e.parts[c.part]
	for j := c.from; j < max(c.to, c.from+1); j++ {
		if pt.seam && onSeam(pt.lon(int(j)), pt.lon(int(j)+1), pt.seamLo, pt.seamHi) {
			continue
		}
		r := edgeRef{pt.pts, j}
		if x, y, _ := p.segmentNearest(r.edge()); x*x+y*y < best {
			best, ref = x*x+y*y, r
		}
	}
	return best, ref
}

// distance is Distance for an indexed fence. With reach above 0, it may
// answer not ok, without measuring, for a position farther than reach
// (projected metres) outside the fence.
func (e *edgeIndex) distance(p projection, reach float64) (float64, orb.Point, bool) {
	limit := math.Inf(1)
	if reach > 0 {
		limit = reach * reach
	}
	if !e.inline() && e.sides != nil {
		var pl place
		if e.sides.at(p, &pl) {
			return e.distanceBeside(p, &pl, limit)
		}
	}
	if e.oneRing {
		if p.boxDist2(e.box) > 0 {
			// Outside the ring's box, so outside the ring: no border
			// point farther than the limit is wanted.
			x, y, _, _, found := e.nearest(p, limit)
			if !found {
				return 0, orb.Point{}, false
			}
			d, nearest := p.signedWithin(x, y, false, limit)
			return d, nearest, true
		}
		// The side of the nearest border point tells inside from outside,
		// so find it first.
		x, y, t, ref, found := e.nearest(p, math.Inf(1))
		if !found {
			return 0, orb.Point{}, false // no border to measure, as for a NaN
		}
		inside, ok := e.sideOf(p, x, y, t, ref)
		if !ok {
			inside = e.contains(orb.Point{p.lon0, p.lat0})
		}
		if !inside && x*x+y*y >= limit {
			return 0, orb.Point{}, false
		}
		d, nearest := p.signedWithin(x, y, inside, limit)
		return d, nearest, true
	}
	x, y, _, _, found := e.nearest(p, limit)
	if !e.polygon {
		if !found {
			return 0, orb.Point{}, false
		}
		d, nearest := p.buffered(x, y, e.radius)
		return d, nearest, true
	}
	// Containment first: a position far outside needs no nearest point.
	inside := e.contains(orb.Point{p.lon0, p.lat0})
	if !found {
		if !inside {
			return 0, orb.Point{}, false
		}
		x, y, _, _, _ = e.nearest(p, math.Inf(1)) // deep inside
	}
	d, nearest := p.signedWithin(x, y, inside, limit)
	return d, nearest, true
}

// signedWithin is signed, but ±Far without measuring the great-circle
// distance when the border is farther than the square root of limit
// (the reach squared): the answer is then Far whatever it measures.
func (p projection) signedWithin(x, y float64, inside bool, limit float64) (float64, orb.Point) {
	switch {
	case x*x+y*y < limit:
		return p.signed(x, y, inside)
	case inside:
		return -Far, p.lonLat(x, y)
	}
	return Far, p.lonLat(x, y)
}

// sideOf reads whether the query point is inside a simple ring from the
// side of the border it faces at its nearest point (x, y): the segment
// between them crosses no other edge, or that edge would be nearer. At a
// vertex, both edges that meet there decide. It is not ok where the
// border doubles back on itself.
func (e *edgeIndex) sideOf(p projection, x, y, t float64, ref edgeRef) (inside, ok bool) {
	pts := ref.pts
	cross := func(ax, ay, bx, by float64) float64 { return (ax*by - ay*bx) * e.left }
	if t > 0 && t < 1 {
		ax, ay, bx, by := p.edgeXY(ref.edge())
		return cross(bx-ax, by-ay, -x, -y) > 0, true
	}
	// At a vertex v, between the edges from u and to w. The ring is
	// closed, so its first vertex is also its last.
	i := int(ref.i)
	if t >= 1 {
		i++
	}
	n := len(pts)
	prev, next := i-1, i+1
	if i == 0 || i == n-1 {
		prev, next = n-2, 1
	}
	ux, uy, v1x, v1y := p.edgeXY(pts[prev], pts[i])
	v2x, v2y, wx, wy := p.edgeXY(pts[i], pts[next])
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
// ray cast only against the chunks that reach the position's latitude
// east of it.
func (e *edgeIndex) contains(pt orb.Point) bool {
	// Per part, the parity of the point at its longitude and a turn west
	// and east, as ringContains keeps it.
	var small [4][3]bool
	parity := small[:]
	if len(e.parts) > len(small) {
		parity = make([][3]bool, len(e.parts))
	}
	var buf [64]int32
	const slack = 1e-6 // degrees: x below is computed, so may pass its box by a rounding
	for k, c := range [...]float64{pt[0], pt[0] - 360, pt[0] + 360} {
		if k > 0 && (c > float64(e.box.maxX)+slack || e.flat && c < float64(e.box.minX)-slack) {
			continue // east of every edge, or west of them all and crossing each ring evenly
		}
		ray := newBox(c-slack, pt[1], math.Inf(1), pt[1])
		if !e.inline() {
			for _, i := range e.tree.appendSearch(ray, buf[:0]) {
				e.cross(&e.big[i], pt, c, parity, k)
			}
			continue
		}
		for i := range e.small[:e.n] {
			if e.small[i].intersects(ray) {
				e.cross(&e.small[i], pt, c, parity, k)
			}
		}
	}
	in := func(part int) bool {
		q := parity[part]
		return q[0] || q[1] || q[2]
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

// cross flips the parity of the point pt, moved to longitude c, for each
// edge of a chunk that the ray east of it crosses.
func (e *edgeIndex) cross(ch *chunk, pt orb.Point, c float64, parity [][3]bool, k int) {
	p := &e.parts[ch.part]
	if p.polygon < 0 {
		return
	}
	for j := int(ch.from); j < int(ch.to); j++ {
		// ringContains tests the edge from its later vertex, a here.
		a, b := p.pts[j+1], p.pts[j]
		if (a[1] > pt[1]) == (b[1] > pt[1]) {
			continue
		}
		ax, bx := p.lon(j+1), p.lon(j)
		if x := (bx-ax)*(pt[1]-a[1])/(b[1]-a[1]) + ax; c < x {
			parity[ch.part][k] = !parity[ch.part][k]
		}
	}
}

// boxDist2 is the squared projected distance from the query point to the
// nearest copy of a box of longitudes and latitudes: never more than the
// distance to any point in it, whichever turn of the globe it lies on.
func (p projection) boxDist2(b box) float64 {
	lo, hi := float64(b.minX), float64(b.maxX)
	dx := 0.0
	switch {
	case p.lon0 < lo:
		dx = lo - p.lon0
	case p.lon0 > hi:
		dx = p.lon0 - hi
	}
	if w := hi - lo; 2*dx+w > 360 || w >= 360 {
		dx = p.wrapDX(b)
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

// wrapDX is how many degrees of longitude separate the query point from
// the nearest copy of a box far round the globe from it, or as wide as
// it: the copy a turn away is 360-dx-w off, no nearer unless 2dx+w > 360.
func (p projection) wrapDX(b box) float64 {
	w := float64(b.maxX) - float64(b.minX)
	if w >= 360 {
		return 0
	}
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
		return min(east-w, 360-east)
	}
	return 0
}
