package geofence

import (
	"cmp"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// sides is a grid over a large polygon fence's box that knows, for the
// centre of each cell, how far the border is and on which side. Most
// positions in the box of a polygon of many thousand edges are far from
// its border. Outside it, that distance says no border is within the
// search buffer, with no search at all; inside it, it says so, and
// bounds the search for the nearest border point from the start.
type sides struct {
	minX, minY float64 // the south-west corner of cell 0, in degrees
	cw, ch     float64 // a cell's width and height, in degrees
	nx, ny     int
	// d[j] is the distance from the centre of cell j (row j/nx) to the
	// border, in metres of the projection centred there, rounded down;
	// negative inside.
	d []float32
	// near[j] is the chunk (in edgeIndex.big) of the border point
	// nearest the centre of cell j, and with it the part (see hint).
	near []int32
	// cos[r] is the cosine of the latitude of row r's centres.
	cos []float64
	// u[j] is where along its part the border point nearest the centre
	// of cell j is, in edges from the part's first vertex; gx[j] and
	// gy[j] how fast that moves with a position east and north of the
	// centre, in edges a metre. A smooth border's nearest point moves
	// smoothly with the position, so they foretell a position's nearest
	// chunk where near, the centre's, can be a dozen chunks off: scanned
	// first, it leaves little to search.
	u, gx, gy []float32
	// chunkAt[partFrom[part]+edge/step] is the chunk (in edgeIndex.big)
	// of an edge.
	chunkAt, partFrom []int32
	// Cell j's candidates, nodes[start[j]:start[j+1]]: the nodes of the
	// chunks' tree one level above them that are within reach[j] of its
	// centre (its projected metres, rounded down), nearest first; reach
	// -1 when there are too many to list. A position in the cell is
	// within |d| plus its way from the centre of the border, so its
	// nearest border point is in them (see candidates): deep inside a
	// smooth border, where a search from the tree's root looks at about
	// 70 boxes to rule out the many chunks nearly as near, these are a
	// few dozen.
	start []int32
	nodes []uint16
	reach []float32
	// nodes[k] is no nearer the centre of its cell j than
	// base[j] + least[k]*unit[j]: how near, in a byte.
	least      []uint8
	base, unit []float32
}

// roundedUp is at least the distance d was rounded down from: a float32
// is within a part in 2^23 of what it rounds.
func roundedUp(d float32) float64 {
	return math.Abs(float64(d)) * (1 + 1.0/(1<<23))
}

// place is where sides puts a position (see at).
type place struct {
	inside       bool
	lower, upper float64 // the distance to the border lies between
	near         int     // the chunk measured first, set by distanceBeside (see hint)
	cell         int
	// away is the way from the centre, dx and dy its east and north
	// parts, and stretch the most a length changes between the centre's
	// projection and the position's.
	away, dx, dy, stretch float64
}

// slopes estimates gx and gy from the neighbouring cells: of the two on
// each axis, the one that says the nearest point moves less, since the
// other may be past a ridge where it jumps to another stretch of border.
func (s *sides) slopes(e *edgeIndex) {
	slope := func(j, n int, metres float64) (float64, bool) {
		cj, cn := &e.big[s.near[j]], &e.big[s.near[n]]
		if cj.part != cn.part {
			return 0, false
		}
		du, edges := float64(s.u[n]-s.u[j]), float64(e.parts[cj.part].edges())
		if du > edges/2 {
			du -= edges
		} else if du < -edges/2 {
			du += edges
		}
		return du / metres, true
	}
	pick := func(a float64, aok bool, b float64, bok bool) float32 {
		switch {
		case aok && bok && math.Abs(a) <= math.Abs(b):
			return float32(a)
		case bok:
			return float32(b)
		case aok:
			return float32(a)
		}
		return 0
	}
	ky := earthRadius * math.Pi / 180
	for r := range s.ny {
		for col := range s.nx {
			j := r*s.nx + col
			wx, hy := s.cw*ky*s.cos[r], s.ch*ky
			var e1, e2, n1, n2 float64
			var ok1, ok2, ok3, ok4 bool
			if col > 0 {
				e1, ok1 = slope(j, j-1, -wx)
			}
			if col+1 < s.nx {
				e2, ok2 = slope(j, j+1, wx)
			}
			if r > 0 {
				n1, ok3 = slope(j, j-s.nx, -hy)
			}
			if r+1 < s.ny {
				n2, ok4 = slope(j, j+s.nx, hy)
			}
			s.gx[j], s.gy[j] = pick(e1, ok1, e2, ok2), pick(n1, ok3, n2, ok4)
		}
	}
}

// hint is the chunk where the border point nearest a placed position
// likely is, foretold from its cell's centre.
func (s *sides) hint(e *edgeIndex, pl *place) int {
	j := pl.cell
	part := e.big[s.near[j]].part
	edges := float64(e.parts[part].edges())
	u := float64(s.u[j]) + float64(s.gx[j])*pl.dx + float64(s.gy[j])*pl.dy
	if u < 0 {
		u += edges
	} else if u >= edges {
		u -= edges
	}
	k := int(min(max(u, 0), edges-1)) / int(e.step)
	return int(s.chunkAt[int(s.partFrom[part])+k])
}

// Limits of a sides grid: fences at most this wide, so that the
// projection at each cell's centre is a plain affine map of their edges,
// and this near a pole.
const (
	sidesMinChunks = 64 // fences of fewer chunks search fast enough
	sidesMaxWidth  = 10.0
	sidesMaxLat    = 80.0
	sidesMaxList   = 64 // a cell with more candidates searches the tree
)

// newSides builds the grid of a polygon fence whose edges are indexed,
// with about two cells a chunk (a cell for two chunks measured 6%
// slower); nil for a fence it would not help, or whose rings cross the
// antimeridian (see edgeIndex.flat).
func newSides(e *edgeIndex) *sides {
	b := e.box
	w, h := float64(b.maxX)-float64(b.minX), float64(b.maxY)-float64(b.minY)
	if !e.polygon || !e.flat || e.inline() || len(e.big) < sidesMinChunks || w > sidesMaxWidth || w <= 0 || h <= 0 ||
		math.Abs(float64(b.minY)) > sidesMaxLat || math.Abs(float64(b.maxY)) > sidesMaxLat {
		return nil
	}
	cells := float64(len(e.big)) * 2
	wm := w * e.cosRef // in degrees of latitude, roughly
	nx := max(1, int(math.Round(math.Sqrt(cells*wm/h))))
	ny := max(1, int(math.Round(cells/float64(nx))))
	s := &sides{minX: float64(b.minX), minY: float64(b.minY), cw: w / float64(nx), ch: h / float64(ny), nx: nx, ny: ny}
	if nx*ny > 16*len(e.big) {
		return nil // a long thin fence, whose cells would be mostly empty
	}
	s.d, s.near = make([]float32, nx*ny), make([]int32, nx*ny)
	s.u, s.gx, s.gy = make([]float32, nx*ny), make([]float32, nx*ny), make([]float32, nx*ny)
	s.cos = make([]float64, ny)
	// A part's chunks are in e.big where chunkAt says, from partFrom on.
	step := int(e.step)
	s.partFrom = make([]int32, len(e.parts)+1)
	// A part by its first vertex and length, as an edgeRef holds it:
	// rings a caller built may share memory, one a prefix of another.
	type ring struct {
		first *orb.Point
		n     int
	}
	partOf := make(map[ring]int, len(e.parts))
	for pi, p := range e.parts {
		n := 0
		if len(p.pts) > 0 {
			n = (p.edges() + step - 1) / step
			partOf[ring{&p.pts[0], len(p.pts)}] = pi
		}
		s.partFrom[pi+1] = s.partFrom[pi] + int32(n)
	}
	s.chunkAt = make([]int32, s.partFrom[len(e.parts)])
	for i := range e.big {
		c := &e.big[i]
		s.chunkAt[int(s.partFrom[c.part])+int(c.from)/step] = int32(i)
	}
	for r := range ny {
		cy := s.minY + (float64(r)+0.5)*s.ch
		s.cos[r] = math.Cos(cy * math.Pi / 180)
		for col := range nx {
			cx := s.minX + (float64(col)+0.5)*s.cw
			x, y, t, ref, ok := e.nearest(newProjection(cy, cx), math.Inf(1))
			if !ok {
				return nil
			}
			j := r*nx + col
			s.near[j] = s.chunkAt[int(s.partFrom[partOf[ring{&ref.pts[0], len(ref.pts)}]])+int(ref.i)/step]
			s.u[j] = float32(float64(ref.i) + t)
			d := float32(math.Hypot(x, y))
			if float64(d) > math.Hypot(x, y) {
				d = math.Nextafter32(d, 0)
			}
			if e.contains(orb.Point{cx, cy}) {
				d = -d
			}
			s.d[j] = d
		}
	}
	s.slopes(e)
	s.list(e)
	return s
}

// list finds each cell's candidates. A node can hold the nearest border
// point of a position in the cell only if it is within the border's
// distance plus twice the cell's half-diagonal of its centre; a margin
// covers the change of projection from the centre to the position.
func (s *sides) list(e *edgeIndex) {
	if len(e.tree.levels) < 2 || len(e.tree.levels[1]) > math.MaxUint16 {
		return
	}
	s.start, s.reach = make([]int32, len(s.d)+1), make([]float32, len(s.d))
	s.base, s.unit = make([]float32, len(s.d)), make([]float32, len(s.d))
	var found []candidate
	for j := range s.d {
		row, col := j/s.nx, j%s.nx
		c := newProjection(s.minY+(float64(row)+0.5)*s.ch, s.minX+(float64(col)+0.5)*s.cw)
		half := math.Hypot(s.cw/2*c.kx, s.ch/2*c.ky)
		reach := float32((roundedUp(s.d[j])+2*half)*(1+1e-3) + 1e-3)
		top := len(e.tree.levels) - 1
		found = e.within(c, e.capsuleScale(c), top, 0, len(e.tree.levels[top]), float64(reach), found[:0])
		if len(found) > sidesMaxList {
			s.reach[j] = -1
			s.start[j+1] = int32(len(s.nodes))
			continue
		}
		slices.SortFunc(found, func(a, b candidate) int { return cmp.Compare(a.lower, b.lower) })
		if len(found) > 0 {
			base := math.Nextafter32(float32(found[0].lower), 0)
			unit := max((float64(reach)-float64(base))/255, 1e-9)
			s.base[j], s.unit[j] = base, float32(unit)
			for _, f := range found {
				// Rounded down, and a little more, for the arithmetic.
				q := math.Floor((f.lower-float64(base))/float64(s.unit[j])*(1-1e-6)) - 1
				s.nodes, s.least = append(s.nodes, uint16(f.node)), append(s.least, uint8(min(max(q, 0), 255)))
			}
		}
		s.reach[j] = reach
		s.start[j+1] = int32(len(s.nodes))
	}
}

// candidate is a node of level 1 of a chunks' tree, and how near it may
// be.
type candidate struct {
	node  int
	lower float64
}

// within appends to found the nodes of level 1 under the nodes from to to
// of a level that may be within reach projected metres of p, giving up
// past sidesMaxList of them.
func (e *edgeIndex) within(p projection, rs float64, level, from, to int, reach float64, found []candidate) []candidate {
	boxes, caps := e.tree.levels[level][from:to], e.caps[level][from:to]
	for i := range boxes {
		if len(found) > sidesMaxList {
			break
		}
		lower := math.Sqrt(p.boxDist2(boxes[i]))
		if lower > reach {
			continue
		}
		if p.nearTurn(boxes[i]) {
			lower = max(lower, e.capsuleDist(p, &caps[i], rs))
		}
		switch {
		case lower > reach:
		case level == 1:
			found = append(found, candidate{from + i, lower})
		default:
			c := (from + i) * nodeSize
			found = e.within(p, rs, level-1, c, min(c+nodeSize, len(e.tree.levels[level-1])), reach, found)
		}
	}
	return found
}

// candidates is the list of the cell a position is placed in, when its
// nearest border point must be among them.
func (s *sides) candidates(pl *place) ([]uint16, []uint8, bool) {
	if s.reach == nil || s.reach[pl.cell] < 0 {
		return nil, nil, false
	}
	// The nearest point to the centre is within |d| + away of the
	// position, in the centre's projection, so the position's own nearest
	// is within stretch times that of it, and away more of the centre.
	if pl.away+pl.stretch*(roundedUp(s.d[pl.cell])+pl.away)*(1+1e-9) > float64(s.reach[pl.cell]) {
		return nil, nil, false
	}
	from, to := s.start[pl.cell], s.start[pl.cell+1]
	return s.nodes[from:to], s.least[from:to], true
}

// at places the query point in pl: on which side of the border it is,
// when the centre of its cell is farther from the border than from it,
// with a lower and an upper bound on its distance to the border in its
// own projected metres. It says false when the border may pass between
// them.
func (s *sides) at(p projection, pl *place) bool {
	col := min(max(int((p.lon0-s.minX)/s.cw), 0), s.nx-1)
	row := min(max(int((p.lat0-s.minY)/s.ch), 0), s.ny-1)
	d := float64(s.d[row*s.nx+col])
	// From the centre, in its projection, where the border is no nearer
	// than |d|: a straight way to the query point crosses no edge when it
	// is shorter than that.
	cx, cy := s.minX+(float64(col)+0.5)*s.cw, s.minY+(float64(row)+0.5)*s.ch
	kx := p.ky * s.cos[row]
	dx, dy := (p.lon0-cx)*kx, (p.lat0-cy)*p.ky
	// Metres, which cannot overflow: math.Hypot's care costs here.
	away := math.Sqrt(dx*dx+dy*dy)*(1+1e-9) + 1e-6
	if !(math.Abs(d) > away) { // and a NaN position is not placed
		return false
	}
	// A length in the centre's projection is the query point's, with its
	// east-west part scaled by the ratio of their cosines.
	widen, narrow := max(1, p.cos0/s.cos[row]), max(1, s.cos[row]/p.cos0)
	*pl = place{
		inside: d < 0,
		lower:  (math.Abs(d) - away) / narrow, upper: (roundedUp(s.d[row*s.nx+col])+away)*widen*(1+1e-9) + 1e-6,
		cell: row*s.nx + col,
		away: away, dx: dx, dy: dy, stretch: widen * narrow,
	}
	return true
}

// distanceBeside is distance for a position sides has placed, with the
// bounds it gives on how far the border is.
func (e *edgeIndex) distanceBeside(p projection, pl *place, limit float64) (float64, orb.Point, bool) {
	if !pl.inside && pl.lower*pl.lower >= limit {
		return 0, orb.Point{}, false // outside, and no border within reach
	}
	best := math.Nextafter(pl.upper*pl.upper, math.Inf(1))
	if !pl.inside {
		best = min(best, limit)
	}
	pl.near = e.sides.hint(e, pl)
	best, ref := e.scan(p, pl.near, best, edgeRef{i: -1})
	var x, y float64
	found := false
	if nodes, least, ok := e.sides.candidates(pl); ok {
		best, ref = e.nearestAmong(p, pl, nodes, least, best, ref)
		if found = ref.i >= 0; found {
			x, y, _ = p.segmentNearest(ref.edge())
		}
	} else {
		x, y, _, _, found = e.nearestFrom(p, pl.near, best, ref)
	}
	if !found {
		if !pl.inside {
			return 0, orb.Point{}, false
		}
		// The bound is a bound, so this is for what rounding may do.
		if x, y, _, _, found = e.nearest(p, math.Inf(1)); !found {
			return 0, orb.Point{}, false
		}
	}
	d, nearest := p.signedWithin(x, y, pl.inside, limit)
	return d, nearest, true
}

// nearestAmong is nearestFrom, searching the chunks under nodes of the
// tree's level 1 only.
func (e *edgeIndex) nearestAmong(p projection, pl *place, nodes []uint16, least []uint8, best float64, ref edgeRef) (float64, edgeRef) {
	boxes, caps := e.tree.levels[1], e.caps[1]
	w := walk{e.capsuleScale(p), pl.near}
	// A node no nearer the centre than this, in the cell's units, is no
	// nearer the position than the best edge so far, and nor are those
	// after it.
	base, unit := float64(e.sides.base[pl.cell]), float64(e.sides.unit[pl.cell])
	beyond := func(best float64) float64 {
		return ((math.Sqrt(best)*pl.stretch+pl.away)*(1+1e-9) + 1e-6 - base) / unit
	}
	stop := beyond(best)
	for k, n := range nodes {
		if float64(least[k]) >= stop {
			break
		}
		if p.boxDist2(boxes[n]) >= best || p.nearTurn(boxes[n]) && e.capsuleBeyond(p, &caps[n], w.rs, best) {
			continue
		}
		c := int(n) * nodeSize
		best, ref = e.nearestIn(p, w, c, min(c+nodeSize, len(e.big)), best, ref)
		stop = beyond(best)
	}
	return best, ref
}
