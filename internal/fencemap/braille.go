package fencemap

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// The smallest picture Draw makes: room for a scale bar and a shape.
const (
	MinWidth  = 20
	MinHeight = 4
)

// Options say how big the picture is, in terminal cells, and whether it
// is coloured with ANSI escapes.
type Options struct {
	Width, Height int // columns and lines, the scale bar's line included
	Color         bool
}

// Picture is a drawn scene.
type Picture struct {
	// Lines are at most Height lines of at most Width cells each, with no
	// trailing blanks.
	Lines []string
	// MetresPerDot is the scale, the same across and down: a braille dot
	// is about square, a cell being two dots wide and four tall.
	MetresPerDot float64
	// ScaleMetres is the distance the scale bar states, and ScaleCells the
	// cells between the middles of its end ticks: ScaleMetres is
	// ScaleCells*2 dots. ScaleCells is 0 when there is no bar.
	ScaleMetres float64
	ScaleCells  int
	// Unlabelled are the geometryIds whose labels found no room.
	Unlabelled []string
}

// style is what a cell shows, for its colour.
type style uint8

const (
	plain style = iota
	fenceStyle
	trackStyle
	labelStyle
	startStyle
	endStyle
)

var sgr = [...]string{plain: "", fenceStyle: "36", trackStyle: "33", labelStyle: "1", startStyle: "1;32", endStyle: "1;31"}

// canvas is a grid of braille cells, each 2 dots wide and 4 tall, with
// text that may replace a cell.
type canvas struct {
	cols, rows   int
	fence, track []uint8 // the dots of each cell, as braille bits
	text         []rune
	textStyle    []style
}

func newCanvas(cols, rows int) *canvas {
	n := cols * rows
	return &canvas{cols: cols, rows: rows, fence: make([]uint8, n), track: make([]uint8, n), text: make([]rune, n), textStyle: make([]style, n)}
}

// brailleBit is the bit of the dot at column x (0-1), row y (0-3) of a
// cell, in the order of the Unicode braille patterns.
var brailleBit = [2][4]uint8{{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}}

// dot lights the dot that holds point (x, y), in dots from the top left.
func (c *canvas) dot(layer []uint8, x, y float64) {
	ix, iy := int(math.Floor(x)), int(math.Floor(y))
	if ix < 0 || iy < 0 || ix >= 2*c.cols || iy >= 4*c.rows {
		return
	}
	layer[(iy/4)*c.cols+ix/2] |= brailleBit[ix%2][iy%4]
}

// line lights the dots from a to b, in steps of half a dot so that none
// is skipped.
func (c *canvas) line(layer []uint8, ax, ay, bx, by float64) {
	n := int(math.Ceil(2*math.Max(math.Abs(bx-ax), math.Abs(by-ay)))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		c.dot(layer, ax+(bx-ax)*t, ay+(by-ay)*t)
	}
}

func (c *canvas) circle(layer []uint8, x, y, r float64) {
	n := int(math.Ceil(4*math.Pi*r)) + 8
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		c.dot(layer, x+r*math.Cos(a), y+r*math.Sin(a))
	}
}

// free is whether cells [col, col+n) of row may take text: on the
// canvas, with no text, and, when clear is set, with no dots either.
func (c *canvas) free(col, row, n int, clear bool) bool {
	if row < 0 || row >= c.rows || col < 0 || col+n > c.cols {
		return false
	}
	for i := col; i < col+n; i++ {
		k := row*c.cols + i
		if c.text[k] != 0 || (clear && c.fence[k]|c.track[k] != 0) {
			return false
		}
	}
	return true
}

func (c *canvas) write(col, row int, text []rune, st style) {
	for i, r := range text {
		if col+i >= 0 && col+i < c.cols {
			c.text[row*c.cols+col+i], c.textStyle[row*c.cols+col+i] = r, st
		}
	}
}

// projection maps [lon, lat] to metres east and north of the view's
// middle: equirectangular about its middle latitude, which keeps
// distances true to within a few parts in a thousand across a city.
type projection struct {
	wrap       lonWrap
	lon0, lat0 float64
	cos        float64
}

func newProjection(pts []orb.Point) projection {
	lons := make([]float64, len(pts))
	for i, p := range pts {
		lons[i] = p.Lon()
	}
	w := newLonWrap(lons)
	minLon, maxLon, minLat, maxLat := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		l := w.lon(p.Lon())
		minLon, maxLon = math.Min(minLon, l), math.Max(maxLon, l)
		minLat, maxLat = math.Min(minLat, p.Lat()), math.Max(maxLat, p.Lat())
	}
	lat0 := (minLat + maxLat) / 2
	return projection{wrap: w, lon0: (minLon + maxLon) / 2, lat0: lat0, cos: math.Max(math.Cos(lat0*math.Pi/180), 0.01)}
}

func (p projection) xy(pt orb.Point) (x, y float64) {
	return (p.wrap.lon(pt.Lon()) - p.lon0) * metresPerDegree * p.cos, (pt.Lat() - p.lat0) * metresPerDegree
}

// minSpan is the least width and height of a view, in metres, so that a
// lone position is shown at a street's scale.
const minSpan = 100

// Draw draws the scene fitted to o's size: the fences in one colour with
// each geometryId beside or inside its shape, the track's positions as
// dots with its first marked S and its last E, and on the last line a
// scale bar of a round distance.
func Draw(s Scene, o Options) (Picture, error) {
	if o.Width < MinWidth || o.Height < MinHeight {
		return Picture{}, fmt.Errorf("a picture of %d×%d is too small; it takes at least %d×%d", o.Width, o.Height, MinWidth, MinHeight)
	}
	shapes := shapesOf(s.Fences)
	pts := points(shapes, s.Track)
	if len(pts) == 0 {
		return Picture{}, ErrEmpty
	}
	proj := newProjection(pts)
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		x, y := proj.xy(p)
		minX, maxX, minY, maxY = math.Min(minX, x), math.Max(maxX, x), math.Min(minY, y), math.Max(maxY, y)
	}
	rows := o.Height - 1
	w, h := float64(2*o.Width), float64(4*rows)
	// A dot of margin on each side, and a dot for the border itself.
	least := math.Max(math.Max(maxX-minX, minSpan)/(w-3), math.Max(maxY-minY, minSpan)/(h-3))
	bar := chooseBar(least, o.Width)
	scale := least
	if bar.cells > 0 {
		// The bar is exact: the scale shrinks a little so that the round
		// distance spans whole cells.
		scale = bar.metres / float64(2*bar.cells)
	}
	// The middle of the view is the middle of a dot, so that a shape's
	// extremes fall alike on both sides rather than on dot edges.
	cx, cy := (minX+maxX)/2, (minY+maxY)/2
	toDot := func(pt orb.Point) orb.Point {
		x, y := proj.xy(pt)
		return orb.Point{w/2 + 0.5 + (x-cx)/scale, h/2 + 0.5 - (y-cy)/scale}
	}

	c := newCanvas(o.Width, rows)
	placed := make([]placedShape, len(shapes))
	for i, sh := range shapes {
		placed[i] = drawShape(c, sh, toDot, scale)
	}
	for _, p := range s.Track {
		d := toDot(p)
		c.dot(c.track, d.X(), d.Y())
	}
	if len(s.Track) > 0 {
		first, last := toDot(s.Track[0]), toDot(s.Track[len(s.Track)-1])
		markCell(c, last, 'E', endStyle)
		markCell(c, first, 'S', startStyle)
	}
	pic := Picture{MetresPerDot: scale, ScaleMetres: bar.metres, ScaleCells: bar.cells}
	for i, sh := range shapes {
		if !placeLabel(c, labelText(sh.id, o.Width), placed[i]) {
			pic.Unlabelled = append(pic.Unlabelled, sh.id)
		}
	}
	for row := range rows {
		pic.Lines = append(pic.Lines, c.render(row, o.Color))
	}
	pic.Lines = append(pic.Lines, bottomLine(bar, len(s.Track) > 0, o))
	// Blank lines at the end carry nothing.
	for len(pic.Lines) > 0 && pic.Lines[len(pic.Lines)-1] == "" {
		pic.Lines = pic.Lines[:len(pic.Lines)-1]
	}
	return pic, nil
}

// placedShape is a shape as drawn, in dots: its bounds and what counts as
// inside it, for its label.
type placedShape struct {
	minX, minY, maxX, maxY float64
	polygons               []orb.Polygon
	circles                []circle // centre and radius in dots
}

func (p placedShape) inside(x, y float64) bool {
	pt := orb.Point{x, y}
	for _, poly := range p.polygons {
		if planar.PolygonContains(poly, pt) {
			return true
		}
	}
	for _, c := range p.circles {
		if math.Hypot(x-c.centre.X(), y-c.centre.Y()) < c.radius {
			return true
		}
	}
	return false
}

func (p *placedShape) grow(x, y float64) {
	p.minX, p.maxX = math.Min(p.minX, x), math.Max(p.maxX, x)
	p.minY, p.maxY = math.Min(p.minY, y), math.Max(p.maxY, y)
}

func drawShape(c *canvas, sh shape, toDot func(orb.Point) orb.Point, scale float64) placedShape {
	p := placedShape{minX: math.Inf(1), minY: math.Inf(1), maxX: math.Inf(-1), maxY: math.Inf(-1)}
	path := func(pts []orb.Point) []orb.Point {
		out := make([]orb.Point, len(pts))
		for i, pt := range pts {
			out[i] = toDot(pt)
			p.grow(out[i].X(), out[i].Y())
			if i > 0 {
				c.line(c.fence, out[i-1].X(), out[i-1].Y(), out[i].X(), out[i].Y())
			}
		}
		if len(out) == 1 {
			c.dot(c.fence, out[0].X(), out[0].Y())
		}
		return out
	}
	for i, r := range sh.rings {
		ring := orb.Ring(path(r))
		if !sh.holes[i] || len(p.polygons) == 0 {
			p.polygons = append(p.polygons, orb.Polygon{ring})
		} else {
			last := len(p.polygons) - 1
			p.polygons[last] = append(p.polygons[last], ring)
		}
	}
	for _, l := range sh.lines {
		path(l)
	}
	for _, ci := range sh.circles {
		d := toDot(ci.centre)
		r := ci.radius / scale
		if r < 0.5 {
			c.dot(c.fence, d.X(), d.Y())
		} else {
			c.circle(c.fence, d.X(), d.Y(), r)
		}
		p.grow(d.X()-r, d.Y()-r)
		p.grow(d.X()+r, d.Y()+r)
		p.circles = append(p.circles, circle{d, r})
	}
	return p
}

// markCell writes a marker over the cell that holds dot d.
func markCell(c *canvas, d orb.Point, r rune, st style) {
	col, row := int(math.Floor(d.X()/2)), int(math.Floor(d.Y()/4))
	if col >= 0 && row >= 0 && col < c.cols && row < c.rows {
		c.write(col, row, []rune{r}, st)
	}
}

// labelText is a geometryId as it may be drawn: one cell a character, no
// control characters (a file must not drive the terminal), and no wider
// than the picture.
func labelText(id string, width int) []rune {
	var out []rune
	for _, r := range id {
		if unicode.IsControl(r) || ansi.StringWidth(string(r)) != 1 {
			r = '?'
		}
		out = append(out, r)
	}
	if len(out) > width {
		out = out[:width]
	}
	return out
}

// placeLabel writes a label inside its shape when it fits there clear of
// the border, else beside it: above, below, right or left, clear of dots
// if it can be, and never over another label.
func placeLabel(c *canvas, text []rune, p placedShape) bool {
	n := len(text)
	if n == 0 {
		return true
	}
	var centres []orb.Point
	for _, poly := range p.polygons {
		if ctr, area := planar.CentroidArea(poly); area != 0 {
			centres = append(centres, ctr)
		}
	}
	for _, ci := range p.circles {
		centres = append(centres, ci.centre)
	}
	centres = append(centres, orb.Point{(p.minX + p.maxX) / 2, (p.minY + p.maxY) / 2})
	// Near the middle first, stepping off a line or a label's width when
	// a position or another label is in the way.
	for _, ctr := range centres {
		col, row := int(math.Round(ctr.X()/2-float64(n)/2)), int(math.Floor(ctr.Y()/4))
		for _, dr := range []int{0, -1, 1, -2, 2} {
			for _, dc := range []int{0, -n - 1, n + 1} {
				if c.free(col+dc, row+dr, n, true) && cellsInside(p, col+dc, row+dr, n) {
					c.write(col+dc, row+dr, text, labelStyle)
					return true
				}
			}
		}
	}
	midCol := int(math.Round((p.minX+p.maxX)/4 - float64(n)/2))
	midRow := int(math.Floor((p.minY + p.maxY) / 8))
	top, bottom := int(math.Floor(p.minY/4)), int(math.Floor(p.maxY/4))
	left, right := int(math.Floor(p.minX/2)), int(math.Floor(p.maxX/2))
	spots := [][2]int{{midCol, top - 1}, {midCol, bottom + 1}, {right + 2, midRow}, {left - 1 - n, midRow}}
	for _, clear := range []bool{true, false} {
		for _, s := range spots {
			col := min(max(s[0], 0), c.cols-n)
			// A blank cell either side keeps labels apart.
			if c.free(col, s[1], n, clear) && (col == 0 || c.free(col-1, s[1], 1, false)) && (col+n == c.cols || c.free(col+n, s[1], 1, false)) {
				c.write(col, s[1], text, labelStyle)
				return true
			}
		}
	}
	return false
}

// cellsInside is whether every corner of cells [col, col+n) of row is
// inside the shape.
func cellsInside(p placedShape, col, row, n int) bool {
	for i := col; i <= col+n; i++ {
		for _, y := range []int{row * 4, row*4 + 4} {
			if !p.inside(float64(2*i), float64(y)) {
				return false
			}
		}
	}
	return true
}

// render is one line of cells, with colour if asked.
func (c *canvas) render(row int, color bool) string {
	end := c.cols
	for end > 0 && c.cell(row, end-1) == ' ' {
		end--
	}
	var b strings.Builder
	cur := plain
	for col := range end {
		r, st := c.cell(row, col), c.style(row, col)
		if color && st != cur {
			b.WriteString("\x1b[0m")
			if st != plain {
				b.WriteString("\x1b[" + sgr[st] + "m")
			}
			cur = st
		}
		b.WriteRune(r)
	}
	if color && cur != plain {
		b.WriteString("\x1b[0m")
	}
	return b.String()
}

func (c *canvas) cell(row, col int) rune {
	k := row*c.cols + col
	if c.text[k] != 0 {
		return c.text[k]
	}
	if bits := c.fence[k] | c.track[k]; bits != 0 {
		return rune(0x2800) + rune(bits)
	}
	return ' '
}

func (c *canvas) style(row, col int) style {
	k := row*c.cols + col
	switch {
	case c.text[k] != 0:
		return c.textStyle[k]
	case c.track[k] != 0:
		return trackStyle
	case c.fence[k] != 0:
		return fenceStyle
	}
	return plain
}

// scaleBar is a round distance and the cells it spans.
type scaleBar struct {
	metres float64
	cells  int
}

// chooseBar picks the longest round distance (1, 2 or 5 times a power of
// ten) whose bar, at no finer a scale than least metres a dot, spans
// whole cells and fits a third of the width.
func chooseBar(least float64, width int) scaleBar {
	var best scaleBar
	for exp := -1; exp <= 7; exp++ {
		for _, m := range []float64{1, 2, 5} {
			d := m * math.Pow10(exp)
			n := int(math.Floor(d/(2*least) + 1e-9))
			if n >= 1 && n <= width/3 && n+2+len(distanceText(d)) <= width && d > best.metres {
				best = scaleBar{metres: d, cells: n}
			}
		}
	}
	return best
}

// distanceText is a round distance in metres or kilometres.
func distanceText(m float64) string {
	if m >= 1000 {
		return strconv.FormatFloat(m/1000, 'f', -1, 64) + " km"
	}
	return strconv.FormatFloat(m, 'f', -1, 64) + " m"
}

// bottomLine is the scale bar, ├────┤ 200 m, and with a track the legend
// of its markers when there is room.
func bottomLine(bar scaleBar, track bool, o Options) string {
	var line string
	if bar.cells > 0 {
		line = "├" + strings.Repeat("─", bar.cells-1) + "┤ " + distanceText(bar.metres)
	}
	if track {
		legend := "S first  E last position"
		if o.Color {
			legend = "\x1b[" + sgr[startStyle] + "mS\x1b[0m first  \x1b[" + sgr[endStyle] + "mE\x1b[0m last position"
		}
		if ansi.StringWidth(line)+3+ansi.StringWidth(legend) <= o.Width {
			line += "   " + legend
		}
	}
	return line
}
