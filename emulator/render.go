package emulator

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const renderVersion = "2024-04-01"

// Get Map Static Image's documented bounds and defaults.
const (
	staticMinSize       = 80
	staticMaxWidth      = 2000
	staticMaxHeight     = 1500
	staticDefaultSize   = 512
	staticDefaultZoom   = 12
	staticMaxZoom       = 20
	staticMaxPaths      = 10
	staticMaxPathPoints = 100
	staticMaxPins       = 25
	staticMaxPinPoints  = 50
	// tileWorld is the world's width in pixels at zoom 0: static images
	// use 512-pixel tiles, as the zoom table's ranges show.
	tileWorld = 512
	// mercatorMaxLat is where Web Mercator stops.
	mercatorMaxLat = 85.05112878
)

// The plain background each tileset is drawn as: no roads, no imagery.
var tilesetBackgrounds = map[string]color.RGBA{
	"microsoft.base.road":     {0xf2, 0xef, 0xe9, 0xff},
	"microsoft.base.darkgrey": {0x3b, 0x3e, 0x43, 0xff},
	"microsoft.imagery":       {0x5c, 0x6b, 0x52, 0xff},
}

// The emulator's own defaults for what the documentation leaves open.
var (
	defaultLineColor = color.NRGBA{0x1e, 0x6f, 0xd9, 0xff}
	defaultPinColor  = color.NRGBA{0xe8, 0x11, 0x23, 0xff}
)

const (
	defaultLineWidth = 2
	pinRadius        = 6 // pixels, at scale 1
)

// view is the part of the world an image shows, in world pixels at zoom.
type view struct {
	zoom          int
	left, top     float64
	width, height int
}

// project is Web Mercator: the world pixel of a point at a zoom level.
func project(lon, lat float64, zoom int) (x, y float64) {
	lat = max(-mercatorMaxLat, min(mercatorMaxLat, lat))
	n := tileWorld * math.Exp2(float64(zoom))
	s := math.Sin(lat * math.Pi / 180)
	return (lon + 180) / 360 * n, (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n
}

// pixel is a point's position in the image.
func (v view) pixel(lon, lat float64) (x, y float64) {
	x, y = project(lon, lat, v.zoom)
	return x - v.left, y - v.top
}

// staticPath is one path parameter.
type staticPath struct {
	line    color.NRGBA
	fill    color.NRGBA
	filled  bool // fc or fa was given
	width   float64
	radius  float64 // metres; a circle around the one location
	lonLats [][2]float64
}

// staticPins is one pins parameter.
type staticPins struct {
	style   string
	color   color.NRGBA
	scale   float64
	lonLats [][2]float64
}

// staticImage answers Get Map Static Image 2024-04-01 with a PNG of a
// plain background, the paths and the pins: no map is drawn.
func (s *Server) staticImage(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	if q.Get("api-version") == "1.0" {
		s.retiredRender(w, r, c)
		return
	}
	if !checkVersion(w, r, "Render static images", renderVersion) {
		return
	}
	v, bg, msg := parseStaticView(params(q))
	if msg != "" {
		badRequest(w, "%s", msg)
		return
	}
	if n := len(q["path"]); n > staticMaxPaths {
		badRequest(w, "At most %d path parameters are allowed; the request has %d.", staticMaxPaths, n)
		return
	}
	if n := len(q["pins"]); n > staticMaxPins {
		badRequest(w, "At most %d pins parameters are allowed; the request has %d.", staticMaxPins, n)
		return
	}
	var paths []staticPath
	for _, raw := range q["path"] {
		p, err := parsePath(raw)
		if err != nil {
			badRequest(w, "path %q: %v.", raw, err)
			return
		}
		paths = append(paths, p)
	}
	var pins []staticPins
	for _, raw := range q["pins"] {
		p, err := parsePins(raw)
		if err != nil {
			badRequest(w, "pins %q: %v.", raw, err)
			return
		}
		pins = append(pins, p)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, drawStatic(v, bg, paths, pins)); err != nil {
		writeMapsError(w, http.StatusInternalServerError, "500 InternalServerError", "The image could not be encoded.")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// parseStaticView reads the tileset, zoom, and either center with width
// and height or bbox, whose size at the zoom level makes the image's.
func parseStaticView(q params) (v view, bg color.RGBA, msg string) {
	tileset := q.Get("tilesetId")
	if tileset == "" {
		tileset = "microsoft.base.road"
	}
	bg, ok := tilesetBackgrounds[tileset]
	if !ok {
		return v, bg, fmt.Sprintf("tilesetId %q is not one of microsoft.base.road, microsoft.base.darkgrey and microsoft.imagery.", tileset)
	}
	if t := q.Get("trafficLayer"); t != "" && t != "none" && t != "microsoft.traffic.relative.main" {
		return v, bg, fmt.Sprintf("trafficLayer %q is not one of none and microsoft.traffic.relative.main.", t)
	}
	maxZoom := staticMaxZoom
	if tileset == "microsoft.imagery" {
		maxZoom = 19
	}
	v.zoom = staticDefaultZoom
	if z := q.Get("zoom"); z != "" {
		n, err := strconv.Atoi(z)
		if err != nil || n < 0 || n > maxZoom {
			return v, bg, fmt.Sprintf("zoom must be a whole number from 0 to %d for %s.", maxZoom, tileset)
		}
		v.zoom = n
	}
	center, bbox := q.Get("center"), q.Get("bbox")
	widthSet, heightSet := q.Get("width") != "", q.Get("height") != ""
	switch {
	case center == "" && bbox == "":
		return v, bg, "Either center or bbox is required."
	case center != "" && bbox != "":
		return v, bg, "center and bbox are mutually exclusive."
	case bbox != "" && (widthSet || heightSet):
		return v, bg, "bbox cannot be used with width or height: the image's size follows from bbox and zoom."
	}
	if center != "" {
		lon, lat, ok := parsePair(center)
		if !ok || !validLonLat(lon, lat) {
			return v, bg, fmt.Sprintf("center %q must be longitude,latitude, longitude -180 to 180 and latitude -90 to 90.", center)
		}
		v.width, v.height = staticDefaultSize, staticDefaultSize
		for _, d := range []struct {
			name string
			max  int
			into *int
		}{{"width", staticMaxWidth, &v.width}, {"height", staticMaxHeight, &v.height}} {
			if s := q.Get(d.name); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < staticMinSize || n > d.max {
					return v, bg, fmt.Sprintf("%s must be a whole number of pixels from %d to %d.", d.name, staticMinSize, d.max)
				}
				*d.into = n
			}
		}
		x, y := project(lon, lat, v.zoom)
		v.left, v.top = x-float64(v.width)/2, y-float64(v.height)/2
		return v, bg, ""
	}
	f := strings.Split(bbox, ",")
	var b [4]float64
	ok = len(f) == 4
	for i := 0; ok && i < 4; i++ {
		n, err := strconv.ParseFloat(strings.TrimSpace(f[i]), 64)
		b[i], ok = n, err == nil && finite(n)
	}
	if !ok || !validLonLat(b[0], b[1]) || !validLonLat(b[2], b[3]) || b[0] >= b[2] || b[1] >= b[3] {
		return v, bg, fmt.Sprintf("bbox %q must be minLon,minLat,maxLon,maxLat with min below max.", bbox)
	}
	x0, y1 := project(b[0], b[1], v.zoom)
	x1, y0 := project(b[2], b[3], v.zoom)
	v.left, v.top = x0, y0
	v.width, v.height = int(math.Round(x1-x0)), int(math.Round(y1-y0))
	if v.width < staticMinSize || v.width > staticMaxWidth || v.height < staticMinSize || v.height > staticMaxHeight {
		return v, bg, fmt.Sprintf("bbox at zoom %d would be %d×%d pixels; it must be %d to %d wide and %d to %d high: choose another zoom.",
			v.zoom, v.width, v.height, staticMinSize, staticMaxWidth, staticMinSize, staticMaxHeight)
	}
	return v, bg, ""
}

// parsePath reads "lcRRGGBB|fcRRGGBB|lwN|la0.8|fa0.3|raM||lon lat|lon lat|...".
func parsePath(s string) (staticPath, error) {
	p := staticPath{line: defaultLineColor, width: defaultLineWidth}
	p.fill = p.line
	p.fill.A = 0x80
	mods, locs, ok := strings.Cut(s, "||")
	if !ok {
		return p, fmt.Errorf("no '||' between the style and the locations")
	}
	for _, m := range strings.Split(mods, "|") {
		if m == "" {
			continue
		}
		if len(m) < 3 {
			return p, fmt.Errorf("style modifier %q has no value", m)
		}
		key, val := m[:2], m[2:]
		var err error
		switch key {
		case "lc":
			p.line, err = hexColor(val, p.line.A)
		case "fc":
			p.fill, err = hexColor(val, p.fill.A)
			p.filled = true
		case "la":
			p.line.A, err = alpha(val)
		case "fa":
			p.fill.A, err = alpha(val)
			p.filled = true
		case "lw":
			n, e := strconv.Atoi(val)
			if e != nil || n <= 0 || n > 50 {
				err = fmt.Errorf("lw %q must be a whole number from 1 to 50", val)
			}
			p.width = float64(n)
		case "ra":
			p.radius, err = strconv.ParseFloat(val, 64)
			if err != nil || !finite(p.radius) || p.radius <= 0 {
				err = fmt.Errorf("ra %q must be a radius in metres greater than 0", val)
			}
		default:
			err = fmt.Errorf("unknown style modifier %q: path takes lc, fc, la, fa, lw and ra", key)
		}
		if err != nil {
			return p, err
		}
	}
	for _, loc := range strings.Split(locs, "|") {
		lon, lat, err := lonLat(loc, 360)
		if err != nil {
			return p, err
		}
		p.lonLats = append(p.lonLats, [2]float64{lon, lat})
	}
	switch n := len(p.lonLats); {
	case n > staticMaxPathPoints:
		return p, fmt.Errorf("%d locations; a path takes at most %d", n, staticMaxPathPoints)
	case p.radius > 0 && n != 1:
		return p, fmt.Errorf("a circle (ra) takes exactly one location, its centre")
	case p.radius == 0 && n < 2:
		return p, fmt.Errorf("a line needs at least 2 locations")
	}
	return p, nil
}

// parsePins reads "default|coRRGGBB|sc1.5||'label'lon lat|lon lat|...";
// custom pins end with "||url", which the emulator does not fetch.
func parsePins(s string) (staticPins, error) {
	p := staticPins{color: defaultPinColor, scale: 1}
	head, locs, ok := strings.Cut(s, "||")
	if !ok {
		return p, fmt.Errorf("no '||' between the style and the locations")
	}
	mods := strings.Split(head, "|")
	p.style = mods[0]
	switch p.style {
	case "default", "none":
	case "custom":
		var url string
		locs, url, _ = strings.Cut(locs, "||")
		if url == "" {
			return p, fmt.Errorf("custom pins need '||' and an image URL after the locations")
		}
	default:
		return p, fmt.Errorf("style %q is not one of default, none and custom", p.style)
	}
	for _, m := range mods[1:] {
		if len(m) < 3 {
			return p, fmt.Errorf("style modifier %q has no value", m)
		}
		key, val := m[:2], m[2:]
		var err error
		switch key {
		case "co":
			p.color, err = hexColor(val, p.color.A)
		case "lc":
			_, err = hexColor(val, 0xff)
		case "al":
			p.color.A, err = alpha(val)
		case "sc", "ls":
			f, e := strconv.ParseFloat(val, 64)
			if e != nil || !finite(f) || f <= 0 {
				err = fmt.Errorf("%s %q must be a number greater than 0", key, val)
			}
			if key == "sc" {
				p.scale = f
			}
		case "ro":
			f, e := strconv.ParseFloat(val, 64)
			if e != nil || f < -360 || f > 360 {
				err = fmt.Errorf("ro %q must be degrees from -360 to 360", val)
			}
		case "an", "la":
			xy := strings.Fields(val)
			if len(xy) != 2 {
				err = fmt.Errorf("%s %q must be two whole numbers, x and y", key, val)
				break
			}
			for _, n := range xy {
				if _, e := strconv.Atoi(n); e != nil {
					err = fmt.Errorf("%s %q must be two whole numbers, x and y", key, val)
				}
			}
		default:
			err = fmt.Errorf("unknown style modifier %q: pins take al, an, co, la, lc, ls, ro and sc", key)
		}
		if err != nil {
			return p, err
		}
	}
	for _, loc := range strings.Split(locs, "|") {
		loc = strings.TrimSpace(loc)
		if strings.HasPrefix(loc, "'") {
			end := strings.Index(loc[1:], "'")
			if end < 0 {
				return p, fmt.Errorf("label in %q has no closing quote", loc)
			}
			loc = loc[end+2:]
		}
		lon, lat, err := lonLat(loc, 180)
		if err != nil {
			return p, err
		}
		p.lonLats = append(p.lonLats, [2]float64{lon, lat})
	}
	if n := len(p.lonLats); n > staticMaxPinPoints {
		return p, fmt.Errorf("%d locations; pins take at most %d", n, staticMaxPinPoints)
	}
	return p, nil
}

// lonLat reads "lon lat"; paths may reach lon ±360 to cross the antimeridian.
func lonLat(s string, maxLon float64) (lon, lat float64, err error) {
	f := strings.Fields(s)
	if len(f) == 2 {
		lon, err1 := strconv.ParseFloat(f[0], 64)
		lat, err2 := strconv.ParseFloat(f[1], 64)
		if err1 == nil && err2 == nil && finite(lon) && finite(lat) && math.Abs(lon) <= maxLon && math.Abs(lat) <= 90 {
			return lon, lat, nil
		}
	}
	return 0, 0, fmt.Errorf("location %q must be \"longitude latitude\", longitude first, -%g to %g, latitude -90 to 90", s, maxLon, maxLon)
}

func hexColor(s string, a uint8) (color.NRGBA, error) {
	n, err := strconv.ParseUint(s, 16, 32)
	if len(s) != 6 || err != nil {
		return color.NRGBA{}, fmt.Errorf("colour %q must be six hexadecimal digits, RRGGBB", s)
	}
	return color.NRGBA{uint8(n >> 16), uint8(n >> 8), uint8(n), a}, nil
}

func alpha(s string) (uint8, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("opacity %q must be a number from 0 to 1", s)
	}
	return uint8(math.Round(f * 255)), nil
}

// drawStatic paints the background, then the paths in order, then the pins.
func drawStatic(v view, bg color.RGBA, paths []staticPath, pins []staticPins) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, v.width, v.height))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, bg.A
	}
	for _, p := range paths {
		pts := make([][2]float64, len(p.lonLats))
		for i, ll := range p.lonLats {
			pts[i][0], pts[i][1] = v.pixel(ll[0], ll[1])
		}
		half := max(p.width/2, 0.6)
		if p.radius > 0 {
			// Metres per pixel shrink with the cosine of the latitude.
			lat := p.lonLats[0][1]
			perPixel := 2 * math.Pi * sphereRadius * math.Cos(lat*math.Pi/180) / (tileWorld * math.Exp2(float64(v.zoom)))
			r := p.radius / perPixel
			x, y := pts[0][0], pts[0][1]
			if p.filled {
				paint(img, p.fill, around(pts, r), func(c *coverage) { c.ring(x, y, r/2, r/2) })
			}
			paint(img, p.line, around(pts, r+half), func(c *coverage) { c.ring(x, y, r, half) })
			continue
		}
		closed := len(pts) >= 4 && p.lonLats[0] == p.lonLats[len(pts)-1]
		if closed && p.filled {
			paint(img, p.fill, around(pts, 0), func(c *coverage) { c.polygon(pts) })
		}
		paint(img, p.line, around(pts, half), func(c *coverage) {
			for i := 1; i < len(pts); i++ {
				c.segment(pts[i-1], pts[i], half)
			}
		})
	}
	for _, p := range pins {
		if p.style == "none" {
			continue
		}
		outline := color.NRGBA{p.color.R / 2, p.color.G / 2, p.color.B / 2, p.color.A}
		r := pinRadius * p.scale
		for _, ll := range p.lonLats {
			x, y := v.pixel(ll[0], ll[1])
			box := around([][2]float64{{x, y}}, r+1)
			paint(img, p.color, box, func(c *coverage) { c.ring(x, y, r/2, r/2) })
			paint(img, outline, box, func(c *coverage) { c.ring(x, y, r, 1) })
		}
	}
	return img
}

// paint lays a colour over the pixels a shape covers, each once, so
// that overlapping strokes of a translucent line do not darken. It
// blends by hand: image/draw would grow the binary for this one loop.
func paint(img *image.RGBA, col color.NRGBA, area image.Rectangle, shape func(*coverage)) {
	area = area.Intersect(img.Bounds())
	if area.Empty() || col.A == 0 {
		return
	}
	c := &coverage{mask: image.NewAlpha(area)}
	shape(c)
	a := uint32(col.A)
	over := func(src uint8, dst *uint8) { *dst = uint8((uint32(src)*a + uint32(*dst)*(255-a) + 127) / 255) }
	for y := c.box.Min.Y; y < c.box.Max.Y; y++ {
		for x := c.box.Min.X; x < c.box.Max.X; x++ {
			if c.mask.Pix[c.mask.PixOffset(x, y)] == 0 {
				continue
			}
			p := img.Pix[img.PixOffset(x, y):]
			over(col.R, &p[0])
			over(col.G, &p[1])
			over(col.B, &p[2])
			p[3] = uint8(a + uint32(p[3])*(255-a)/255)
		}
	}
}

// around is the rectangle of pixels within pad of the points, clamped
// so that points far off the image convert to int safely.
func around(pts [][2]float64, pad float64) image.Rectangle {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		x0, y0 = min(x0, p[0]-pad), min(y0, p[1]-pad)
		x1, y1 = max(x1, p[0]+pad), max(y1, p[1]+pad)
	}
	const limit = 1 << 20 // beyond any image
	clamp := func(f float64) int { return int(max(-limit, min(limit, f))) }
	if !(x0 <= x1 && y0 <= y1) {
		return image.Rectangle{}
	}
	return image.Rect(clamp(math.Floor(x0)), clamp(math.Floor(y0)), clamp(math.Ceil(x1))+1, clamp(math.Ceil(y1))+1)
}

// coverage marks the pixels, by their centres, that a shape covers.
type coverage struct {
	mask *image.Alpha
	box  image.Rectangle
}

// span covers row y from x0 to x1, both included.
func (c *coverage) span(y int, lo, hi float64) {
	b := c.mask.Rect
	// Clamped first, so that huge or infinite ends convert to int safely.
	lo, hi = max(lo, float64(b.Min.X)-1), min(hi, float64(b.Max.X)+1)
	if y < b.Min.Y || y >= b.Max.Y || !(lo <= hi) {
		return
	}
	x0 := max(int(math.Ceil(lo-0.5)), b.Min.X)
	x1 := min(int(math.Floor(hi-0.5)), b.Max.X-1)
	if x0 > x1 {
		return
	}
	row := c.mask.Pix[(y-b.Min.Y)*c.mask.Stride:]
	for x := x0; x <= x1; x++ {
		row[x-b.Min.X] = 0xff
	}
	c.box = c.box.Union(image.Rect(x0, y, x1+1, y+1))
}

// rows is the image's rows from y0 to y1, clipped; none if either is NaN.
func (c *coverage) rows(y0, y1 float64) (int, int) {
	b := c.mask.Rect
	y0, y1 = max(y0, float64(b.Min.Y)-1), min(y1, float64(b.Max.Y)+1)
	if !(y0 <= y1) {
		return 0, -1
	}
	return max(int(math.Floor(y0)), b.Min.Y), min(int(math.Ceil(y1)), b.Max.Y-1)
}

// segment covers a line from a to b drawn with a round pen of radius r:
// on each row, the union of the pen at both ends and the band between.
func (c *coverage) segment(a, b [2]float64, r float64) {
	dx, dy := b[0]-a[0], b[1]-a[1]
	length := math.Hypot(dx, dy)
	y0, y1 := c.rows(min(a[1], b[1])-r, max(a[1], b[1])+r)
	for y := y0; y <= y1; y++ {
		yc := float64(y) + 0.5
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, e := range [][2]float64{a, b} {
			if h := r*r - (yc-e[1])*(yc-e[1]); h >= 0 {
				lo, hi = min(lo, e[0]-math.Sqrt(h)), max(hi, e[0]+math.Sqrt(h))
			}
		}
		if length > 0 {
			ux, uy := dx/length, dy/length
			// Along the line: 0 ≤ (x-ax)·ux + (yc-ay)·uy ≤ length; across it:
			// |(x-ax)·uy - (yc-ay)·ux| ≤ r.
			p, q := within(math.Inf(-1), math.Inf(1), ux, (yc-a[1])*uy, 0, length)
			p, q = within(p, q, uy, -(yc-a[1])*ux, -r, r)
			if p <= q {
				lo, hi = min(lo, a[0]+p), max(hi, a[0]+q)
			}
		}
		c.span(y, lo, hi)
	}
}

// within narrows [p, q] to the X with lo ≤ k·X + off ≤ hi.
func within(p, q, k, off, lo, hi float64) (float64, float64) {
	if math.Abs(k) < 1e-12 {
		if off < lo || off > hi {
			return 1, 0
		}
		return p, q
	}
	a, b := (lo-off)/k, (hi-off)/k
	if a > b {
		a, b = b, a
	}
	return max(p, a), min(q, b)
}

// polygon covers a ring's inside by the even-odd rule.
func (c *coverage) polygon(pts [][2]float64) {
	top, bottom := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		top, bottom = min(top, p[1]), max(bottom, p[1])
	}
	y0, y1 := c.rows(top, bottom)
	var xs []float64
	for y := y0; y <= y1; y++ {
		yc := float64(y) + 0.5
		xs = xs[:0]
		for i := range pts {
			a, b := pts[i], pts[(i+1)%len(pts)]
			if (a[1] <= yc) != (b[1] <= yc) {
				xs = append(xs, a[0]+(yc-a[1])*(b[0]-a[0])/(b[1]-a[1]))
			}
		}
		slices.Sort(xs)
		for k := 0; k+1 < len(xs); k += 2 {
			c.span(y, xs[k], xs[k+1])
		}
	}
}

// ring covers the pixels within half of a circle of radius r; with half
// equal to r it is a disc.
func (c *coverage) ring(cx, cy, r, half float64) {
	outer, inner := r+half, r-half
	y0, y1 := c.rows(cy-outer, cy+outer)
	for y := y0; y <= y1; y++ {
		d := float64(y) + 0.5 - cy
		ho := outer*outer - d*d
		if ho < 0 {
			continue
		}
		so := math.Sqrt(ho)
		hi := inner*inner - d*d
		if inner <= 0 || hi <= 0 {
			c.span(y, cx-so, cx+so)
			continue
		}
		si := math.Sqrt(hi)
		c.span(y, cx-so, cx-si)
		c.span(y, cx+si, cx+so)
	}
}
