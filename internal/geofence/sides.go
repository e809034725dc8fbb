package geofence

import (
	"math"

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
	// nearest the centre of cell j: measured first, it leaves the search
	// little to look at.
	near []int32
	// cos[r] is the cosine of the latitude of row r's centres.
	cos []float64
}

// Limits of a sides grid: fences at most this wide, so that the
// projection at each cell's centre is a plain affine map of their edges,
// and this near a pole.
const (
	sidesMinChunks = 64 // fences of fewer chunks search fast enough
	sidesMaxWidth  = 10.0
	sidesMaxLat    = 80.0
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
	s.cos = make([]float64, ny)
	// A chunk by its part's first vertex, which an edgeRef holds too,
	// and its own first.
	type run struct {
		part *orb.Point
		from int32
	}
	chunkOf := make(map[run]int32, len(e.big))
	for i := range e.big {
		c := &e.big[i]
		chunkOf[run{&e.ring(c)[0], c.from}] = int32(i)
	}
	for r := range ny {
		cy := s.minY + (float64(r)+0.5)*s.ch
		s.cos[r] = math.Cos(cy * math.Pi / 180)
		for col := range nx {
			cx := s.minX + (float64(col)+0.5)*s.cw
			x, y, _, ref, ok := e.nearest(newProjection(cy, cx), math.Inf(1))
			if !ok {
				return nil
			}
			s.near[r*nx+col] = chunkOf[run{&ref.pts[0], ref.i / e.step * e.step}]
			d := float32(math.Hypot(x, y))
			if float64(d) > math.Hypot(x, y) {
				d = math.Nextafter32(d, 0)
			}
			if e.contains(orb.Point{cx, cy}) {
				d = -d
			}
			s.d[r*nx+col] = d
		}
	}
	return s
}

// at says on which side of the border the query point is, when the
// centre of its cell is farther from the border than from it, with a
// lower and an upper bound on its distance to the border in its own
// projected metres, and the chunk nearest the centre; not ok when the
// border may pass between them.
func (s *sides) at(p projection) (inside bool, lower, upper float64, near int, ok bool) {
	col := min(max(int((p.lon0-s.minX)/s.cw), 0), s.nx-1)
	row := min(max(int((p.lat0-s.minY)/s.ch), 0), s.ny-1)
	d := float64(s.d[row*s.nx+col])
	// From the centre, in its projection, where the border is no nearer
	// than |d|: a straight way to the query point crosses no edge when it
	// is shorter than that.
	cx, cy := s.minX+(float64(col)+0.5)*s.cw, s.minY+(float64(row)+0.5)*s.ch
	kx := p.ky * s.cos[row]
	dx, dy := (p.lon0-cx)*kx, (p.lat0-cy)*p.ky
	away := math.Hypot(dx, dy)*(1+1e-9) + 1e-6
	if !(math.Abs(d) > away) { // and a NaN position is not placed
		return false, 0, 0, 0, false
	}
	// A length in the centre's projection is the query point's, with its
	// east-west part scaled by the ratio of their cosines.
	widen, narrow := max(1, p.cos0/s.cos[row]), max(1, s.cos[row]/p.cos0)
	return d < 0, (math.Abs(d) - away) / narrow, (math.Abs(d)+away)*widen*(1+1e-9) + 1e-6, int(s.near[row*s.nx+col]), true
}

// distanceBeside is distance for a position sides has placed, with the
// bounds it gives on how far the border is.
func (e *edgeIndex) distanceBeside(p projection, inside bool, lower, upper float64, near int, limit float64) (float64, orb.Point, bool) {
	if !inside {
		if lower*lower >= limit {
			return 0, orb.Point{}, false // outside, and no border within reach
		}
		x, y, _, _, found := e.nearest(p, limit)
		if !found {
			return 0, orb.Point{}, false
		}
		d, nearest := p.signedWithin(x, y, false, limit)
		return d, nearest, true
	}
	best, ref := e.scan(p, near, math.Nextafter(upper*upper, math.Inf(1)), edgeRef{i: -1})
	x, y, _, _, found := e.nearestFrom(p, near, best, ref)
	if !found {
		// The bound is a bound, so this is for what rounding may do.
		if x, y, _, _, found = e.nearest(p, math.Inf(1)); !found {
			return 0, orb.Point{}, false
		}
	}
	d, nearest := p.signedWithin(x, y, true, limit)
	return d, nearest, true
}
