package geofence

import (
	"cmp"
	"math"
	"slices"
)

// box is a bounding box of longitudes (x) and latitudes (y), in float32
// rounded outward: half the memory of float64, and never smaller than
// what it bounds, so searches and distance bounds stay exact.
type box struct{ minX, minY, maxX, maxY float32 }

func newBox(minX, minY, maxX, maxY float64) box {
	down := func(v float64) float32 {
		f := float32(v)
		if float64(f) > v {
			f = math.Nextafter32(f, float32(math.Inf(-1)))
		}
		return f
	}
	up := func(v float64) float32 {
		f := float32(v)
		if float64(f) < v {
			f = math.Nextafter32(f, float32(math.Inf(1)))
		}
		return f
	}
	return box{down(minX), down(minY), up(maxX), up(maxY)}
}

func (b box) union(o box) box {
	return box{min(b.minX, o.minX), min(b.minY, o.minY), max(b.maxX, o.maxX), max(b.maxY, o.maxY)}
}

func (b box) intersects(o box) bool {
	return b.minX <= o.maxX && o.minX <= b.maxX && b.minY <= o.maxY && o.minY <= b.maxY
}

// packedTree is a static R-tree packed bottom-up, in the manner of
// flatbush: items sorted along a Hilbert curve, then grouped nodeSize at
// a time, level by level. Fences never change once loaded, so there is
// nothing to insert or rebalance, and the tree is a few flat slices that
// a search walks without allocating. tidwall/rtree, which Tile38 uses,
// is built for inserts and deletes, and its nearest-neighbour search
// cannot prune by the best answer so far, which made it four times
// slower here.
type packedTree struct {
	levels [][]box // levels[0] holds the items, the last the root's children
	ids    []int32 // the item at levels[0][i]
}

const nodeSize = 16

func newPackedTree(items []box) *packedTree {
	t := &packedTree{}
	if len(items) == 0 {
		return t
	}
	all := items[0]
	for _, b := range items[1:] {
		all = all.union(b)
	}
	order := make([]int32, len(items))
	keys := make([]uint32, len(items))
	for i, b := range items {
		order[i] = int32(i)
		keys[i] = hilbert(b, all)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) })
	level := make([]box, len(items))
	for i, id := range order {
		level[i] = items[id]
	}
	t.ids = order
	t.levels = append(t.levels, level)
	for len(level) > nodeSize {
		up := make([]box, 0, (len(level)+nodeSize-1)/nodeSize)
		for i := 0; i < len(level); i += nodeSize {
			b := level[i]
			for _, c := range level[i+1 : min(i+nodeSize, len(level))] {
				b = b.union(c)
			}
			up = append(up, b)
		}
		t.levels = append(t.levels, up)
		level = up
	}
	return t
}

// hilbert is the position of a box's centre along a Hilbert curve of
// 2^16 by 2^16 cells over all.
func hilbert(b, all box) uint32 {
	const n = 1 << 16
	scale := func(v, lo, hi float32) uint32 {
		if hi <= lo {
			return 0
		}
		return uint32(min(float64(n-1), float64((v-lo)/(hi-lo))*(n-1)))
	}
	x := scale((b.minX+b.maxX)/2, all.minX, all.maxX)
	y := scale((b.minY+b.maxY)/2, all.minY, all.maxY)
	var d uint32
	for s := uint32(n / 2); s > 0; s /= 2 {
		var rx, ry uint32
		if x&s > 0 {
			rx = 1
		}
		if y&s > 0 {
			ry = 1
		}
		d += s * s * ((3 * rx) ^ ry)
		if ry == 0 {
			if rx == 1 {
				x, y = n-1-x, n-1-y
			}
			x, y = y, x
		}
	}
	return d
}

// search calls fn for every item whose box meets q.
func (t *packedTree) search(q box, fn func(id int32)) {
	if len(t.levels) == 0 {
		return
	}
	top := len(t.levels) - 1
	t.searchLevel(top, 0, len(t.levels[top]), q, fn)
}

func (t *packedTree) searchLevel(level, from, to int, q box, fn func(id int32)) {
	boxes := t.levels[level]
	for i := from; i < to; i++ {
		if !boxes[i].intersects(q) {
			continue
		}
		if level == 0 {
			fn(t.ids[i])
			continue
		}
		t.searchLevel(level-1, i*nodeSize, min((i+1)*nodeSize, len(t.levels[level-1])), q, fn)
	}
}

// nearest finds the item at the least itemDist, best first: bound must
// never be more than itemDist of any item in a box. It returns -1 for an
// empty tree.
func (t *packedTree) nearest(bound func(box) float64, itemDist func(id int32) float64) int32 {
	s := nearestSearch{t: t, bound: bound, itemDist: itemDist, best: math.Inf(1), bestID: -1}
	if len(t.levels) == 0 {
		return s.bestID
	}
	s.h.entries = s.h.small[:0]
	top := len(t.levels) - 1
	s.visit(top, 0, len(t.levels[top]))
	for len(s.h.entries) > 0 {
		e := s.h.pop()
		if e.d >= s.best {
			break
		}
		below := int(e.level) - 1
		s.visit(below, int(e.i)*nodeSize, min((int(e.i)+1)*nodeSize, len(t.levels[below])))
	}
	return s.bestID
}

// nearestSearch is one nearest search under way; it lives on the stack.
type nearestSearch struct {
	t        *packedTree
	bound    func(box) float64
	itemDist func(id int32) float64
	best     float64
	bestID   int32
	h        nodeHeap
}

// visit measures items, and queues nodes that may hold a nearer one.
func (s *nearestSearch) visit(level, from, to int) {
	boxes := s.t.levels[level]
	for i := from; i < to; i++ {
		d := s.bound(boxes[i])
		switch {
		case d >= s.best:
		case level > 0:
			s.h.push(heapEntry{d: d, level: int32(level), i: int32(i)})
		default:
			if d := s.itemDist(s.t.ids[i]); d < s.best {
				s.best, s.bestID = d, s.t.ids[i]
			}
		}
	}
}

// nodeHeap is a binary min-heap of nodes by distance; small keeps the
// common search off the garbage collector.
type nodeHeap struct {
	entries []heapEntry
	small   [64]heapEntry
}

type heapEntry struct {
	d        float64
	level, i int32
}

func (h *nodeHeap) push(e heapEntry) {
	h.entries = append(h.entries, e)
	q := h.entries
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p].d <= q[i].d {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

func (h *nodeHeap) pop() heapEntry {
	q := h.entries
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	h.entries = q
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(q) && q[l].d < q[small].d {
			small = l
		}
		if l+1 < len(q) && q[l+1].d < q[small].d {
			small = l + 1
		}
		if small == i {
			break
		}
		q[small], q[i] = q[i], q[small]
		i = small
	}
	return top
}
