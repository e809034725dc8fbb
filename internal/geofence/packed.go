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

// nodeSize is how many boxes a node holds: 8 answered 5-10% faster than
// 16 in BenchmarkCity10000Fences and BenchmarkPolygon100000.
const nodeSize = 8

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

// appendSearch appends to ids every item whose box meets q, in the
// tree's order. It takes and returns a slice, rather than calling a
// function per item, so that a caller's buffer can stay on its stack.
func (t *packedTree) appendSearch(q box, ids []int32) []int32 {
	if len(t.levels) == 0 {
		return ids
	}
	top := len(t.levels) - 1
	return t.appendLevel(top, 0, len(t.levels[top]), q, ids)
}

func (t *packedTree) appendLevel(level, from, to int, q box, ids []int32) []int32 {
	boxes := t.levels[level][from:to]
	for i := range boxes {
		if !boxes[i].intersects(q) {
			continue
		}
		if level == 0 {
			ids = append(ids, t.ids[from+i])
			continue
		}
		c := (from + i) * nodeSize
		ids = t.appendLevel(level-1, c, min(c+nodeSize, len(t.levels[level-1])), q, ids)
	}
	return ids
}
