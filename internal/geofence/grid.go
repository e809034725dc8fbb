package geofence

import (
	"math"
	"slices"
)

// grid is a uniform grid over the fences' boxes, for positions with a
// small search buffer: the fences near one are then listed in the one to
// four cells its buffer reaches, read straight from an array, where the
// R-tree walks a node a level. Cells are about the median fence's size,
// so each lists a few fences. Fences whose box spans many cells are kept
// apart in large, and every query checks them.
type grid struct {
	minX, minY float64 // the south-west corner of cell 0
	cw, ch     float64 // a cell's width and height, in degrees
	nx, ny     int
	start      []int32 // cell c lists items[start[c]:start[c+1]]
	items      []gridItem
	large      []gridItem
}

// gridItem is a fence's box (as the tree has it) and its id there: the
// box is copied so that a cell's fences are checked without reading
// their records.
type gridItem struct {
	box
	id int32
}

const (
	gridCellsPerFence = 4  // the most cells a grid has, per fence
	gridLargeCells    = 16 // a fence over more median cells than this is large
	gridMaxLarge      = 16 // with more large fences, no grid
	gridMaxCell       = 64 // with more fences in one cell, no grid
	gridQueryCells    = 4  // a query over more cells searches the tree
)

// newGrid is a grid over boxes, whose ids are their indexes, or nil
// when a grid would not help: too few fences, or fences so unevenly
// spread (clusters far apart, many that cover much of the world) that
// some cell would list many.
func newGrid(boxes []box) *grid {
	var ws, hs []float64
	for _, b := range boxes {
		if b.minX <= b.maxX && b.minY <= b.maxY { // else a fence with no position
			ws, hs = append(ws, float64(b.maxX-b.minX)), append(hs, float64(b.maxY-b.minY))
		}
	}
	if len(ws) < 64 {
		return nil
	}
	slices.Sort(ws)
	slices.Sort(hs)
	cw, ch := max(ws[len(ws)/2], 1e-9), max(hs[len(hs)/2], 1e-9)
	// The grid spans the fences that are not large by the median's
	// cells: one fence round the world would otherwise stretch it over
	// the globe, and crowd the rest into a cell.
	g := &grid{}
	large := make([]bool, len(boxes))
	all := box{float32(math.Inf(1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Inf(-1))}
	for i, b := range boxes {
		if b.minX > b.maxX || b.minY > b.maxY {
			continue
		}
		if (float64(b.maxX-b.minX)/cw+1)*(float64(b.maxY-b.minY)/ch+1) > gridLargeCells {
			g.large = append(g.large, gridItem{b, int32(i)})
			large[i] = true
			continue
		}
		all = all.union(b)
	}
	if len(g.large) > gridMaxLarge {
		return nil
	}
	g.minX, g.minY = float64(all.minX), float64(all.minY)
	spanX, spanY := float64(all.maxX)-g.minX, float64(all.maxY)-g.minY
	g.cw, g.ch = max(cw, spanX/4096), max(ch, spanY/4096)
	if cells := (spanX/g.cw + 1) * (spanY/g.ch + 1); cells > float64(gridCellsPerFence*len(ws)) {
		// Fences spread over more ground than they cover: larger cells.
		f := math.Sqrt(cells / float64(gridCellsPerFence*len(ws)))
		g.cw, g.ch = g.cw*f, g.ch*f
	}
	g.nx, g.ny = int(spanX/g.cw)+1, int(spanY/g.ch)+1
	// Each fence goes in every cell its box meets, counted first: a few
	// for one not large, as cells are never smaller than the median's.
	// eachCell calls fn for each cell of each fence not large.
	eachCell := func(fn func(c, i int, b box)) {
		for i, b := range boxes {
			if large[i] {
				continue
			}
			x0, y0, x1, y1, ok := g.cells(b)
			if !ok {
				continue
			}
			for y := y0; y <= y1; y++ {
				for x := x0; x <= x1; x++ {
					fn(y*g.nx+x, i, b)
				}
			}
		}
	}
	counts := make([]int32, g.nx*g.ny+1)
	eachCell(func(c, _ int, _ box) { counts[c+1]++ })
	if slices.Max(counts) > gridMaxCell {
		return nil
	}
	for c := 1; c < len(counts); c++ {
		counts[c] += counts[c-1]
	}
	g.start = counts
	g.items = make([]gridItem, counts[len(counts)-1])
	next := slices.Clone(counts[:len(counts)-1])
	eachCell(func(c, i int, b box) {
		g.items[next[c]] = gridItem{b, int32(i)}
		next[c]++
	})
	return g
}

// cells is the range of cells a box meets, clamped to the grid; not ok
// when it meets none. The same arithmetic for a fence's box and a
// query's keeps their ranges overlapping whenever the boxes do.
func (g *grid) cells(b box) (x0, y0, x1, y1 int, ok bool) {
	if b.minX > b.maxX || b.minY > b.maxY {
		return 0, 0, 0, 0, false
	}
	cell := func(v, lo, size float64, n int) int {
		return min(max(int(math.Floor((v-lo)/size)), -1), n)
	}
	x0, x1 = cell(float64(b.minX), g.minX, g.cw, g.nx), cell(float64(b.maxX), g.minX, g.cw, g.nx)
	y0, y1 = cell(float64(b.minY), g.minY, g.ch, g.ny), cell(float64(b.maxY), g.minY, g.ch, g.ny)
	if x1 < 0 || y1 < 0 || x0 >= g.nx || y0 >= g.ny {
		return 0, 0, 0, 0, false
	}
	return max(x0, 0), max(y0, 0), min(x1, g.nx-1), min(y1, g.ny-1), true
}

// appendSearch appends to ids every item whose box meets q, and says
// whether it did: not when q spans more cells than a tree search costs.
// An item listed in several cells q meets is appended once a cell.
func (g *grid) appendSearch(q box, ids []int32) ([]int32, bool) {
	x0, y0, x1, y1, ok := g.cells(q)
	if ok && (x1-x0+1)*(y1-y0+1) > gridQueryCells {
		return ids, false
	}
	for _, it := range g.large {
		if it.intersects(q) {
			ids = append(ids, it.id)
		}
	}
	if !ok {
		return ids, true
	}
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			c := y*g.nx + x
			for _, it := range g.items[g.start[c]:g.start[c+1]] {
				if it.intersects(q) {
					ids = append(ids, it.id)
				}
			}
		}
	}
	return ids, true
}
