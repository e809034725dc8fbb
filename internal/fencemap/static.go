package fencemap

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// The limits Render 2024-04-01 documents for Get Map Static Image.
const (
	MinImageWidth  = 80
	MaxImageWidth  = 2000
	MinImageHeight = 80
	MaxImageHeight = 1500

	maxPaths         = 10  // path parameters a request
	maxPathLocations = 100 // locations a path
	maxPins          = 25  // pins parameters a request (S1 and Gen2)
	maxPinLocations  = 50  // locations a pins parameter
	// MaxQuery bounds the encoded query string. The service documents no
	// limit; 8 KB is what common web servers and proxies take in a
	// request line.
	MaxQuery = 8000
)

// Colours of the overlays, as Render takes them: RRGGBB.
const (
	fenceColour = "0078D4"
	trackColour = "FFB900"
	startColour = "107C10"
	endColour   = "D13438"
)

// Image is the query of a static map image of a scene, and what had to
// be left out or simplified to fit the service's limits.
type Image struct {
	// Query has center, zoom, width and height (the service takes no
	// width and height with a bbox), and the path and pins parameters;
	// the caller adds api-version and tilesetId.
	Query url.Values
	// Rings is how many rings were drawn as paths, of RingsTotal.
	Rings, RingsTotal int
	// Pins is how many positions were drawn as pins, of len(Track).
	Pins int
	// Tolerance is how far, in pixels, a simplified ring may stray from
	// the fence: 0.5 when no ring had to lose more than half a pixel.
	Tolerance float64
}

// ErrTooDetailed is a scene whose overlays cannot fit a request however
// much they are simplified.
var ErrTooDetailed = errors.New("the fences cannot be simplified enough to fit one static image request")

// overlay is one ring or line in pixels of the image, with whether it is
// filled (an outer ring or a circle).
type overlay struct {
	px     []orb.Point
	filled bool
	area   float64
}

// StaticImage builds the query of a Render static image of the scene,
// width×height pixels: the fences as paths (circles as rings of 64
// sides), the track as pins, the first green and the last red. The view
// is centred at the closest zoom level that holds it all in Web
// Mercator, as the map is drawn, with a margin. When the
// scene exceeds the service's limits, the largest rings are kept, rings
// are simplified (Douglas-Peucker, first within half a pixel) and the
// track is thinned evenly, until the query fits.
func StaticImage(s Scene, width, height int) (Image, error) {
	if width < MinImageWidth || width > MaxImageWidth || height < MinImageHeight || height > MaxImageHeight {
		return Image{}, fmt.Errorf("an image of %d×%d: Render takes %d to %d pixels wide and %d to %d high",
			width, height, MinImageWidth, MaxImageWidth, MinImageHeight, MaxImageHeight)
	}
	shapes := shapesOf(s.Fences)
	pts := points(shapes, s.Track)
	if len(pts) == 0 {
		return Image{}, ErrEmpty
	}
	lons := make([]float64, len(pts))
	for i, p := range pts {
		lons[i] = p.Lon()
	}
	v := newMercatorView(newLonWrap(lons), pts, width, height)

	var overlays []overlay
	for _, sh := range shapes {
		for i, r := range sh.rings {
			overlays = append(overlays, v.overlay(r, !sh.holes[i]))
		}
		for _, l := range sh.lines {
			overlays = append(overlays, v.overlay(l, false))
		}
		for _, c := range sh.circles {
			overlays = append(overlays, v.overlay(circleRing(c, 64), true))
		}
	}
	img := Image{RingsTotal: len(overlays)}
	// The largest rings say most about where the fences are.
	slices.SortStableFunc(overlays, func(a, b overlay) int { return -cmpFloat(a.area, b.area) })
	overlays = overlays[:min(len(overlays), maxPaths)]
	img.Rings = len(overlays)

	track := make([]orb.Point, len(s.Track))
	for i, p := range s.Track {
		track[i] = v.pixel(p)
	}
	pins := min(len(track), maxPins*maxPinLocations)
	for tol := 0.5; tol <= float64(max(width, height)); tol *= 2 {
		q := v.baseQuery()
		took := tol
		for _, o := range overlays {
			p, t := v.pathParam(o, tol)
			q.Add("path", p)
			took = math.Max(took, t)
		}
		for _, p := range v.pinsParams(track, pins) {
			q.Add("pins", p)
		}
		if len(q.Encode()) <= MaxQuery {
			img.Query, img.Pins, img.Tolerance = q, min(pins, len(track)), took
			return img, nil
		}
		pins = max(pins/2, min(2, len(track)))
	}
	return Image{}, ErrTooDetailed
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mercatorView maps the scene to the image's pixels: x is longitude,
// unwrapped, and y the Web Mercator ordinate, both in degrees.
type mercatorView struct {
	wrap                   lonWrap
	zoom                   int
	minX, maxX, minY, maxY float64
	width, height          int
	decimals               int // of the coordinates written
}

// maxMercatorLat is where Web Mercator stops.
const maxMercatorLat = 85.05112878

func mercatorY(lat float64) float64 {
	lat = math.Max(-maxMercatorLat, math.Min(maxMercatorLat, lat))
	return math.Log(math.Tan(math.Pi/4+lat*math.Pi/360)) * 180 / math.Pi
}

func mercatorLat(y float64) float64 {
	return (2*math.Atan(math.Exp(y*math.Pi/180)) - math.Pi/2) * 180 / math.Pi
}

// maxZoom is the closest zoom level of microsoft.base.road; tileWorld
// the world's width in pixels at zoom 0 for static images.
const (
	maxZoom   = 20
	tileWorld = 512
)

// newMercatorView centres the scene in the image at the closest zoom
// level at which it fits with a tenth of margin each side.
func newMercatorView(w lonWrap, pts []orb.Point, width, height int) mercatorView {
	v := mercatorView{wrap: w, width: width, height: height}
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		x, y := w.lon(p.Lon()), mercatorY(p.Lat())
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, y), math.Max(maxY, y)
	}
	for v.zoom = maxZoom; v.zoom > 0; v.zoom-- {
		k := v.perDegree()
		if (maxX-minX)*1.2*k <= float64(width) && (maxY-minY)*1.2*k <= float64(height) {
			break
		}
	}
	// The centre as Render takes it, from -180 to 180; paths may run on
	// past 180 across the antimeridian.
	cx, cy := (minX+maxX)/2, (minY+maxY)/2
	shift := 360 * math.Floor((cx+180)/360)
	v.wrap.west -= shift
	cx -= shift
	k := v.perDegree()
	v.minX, v.maxX = cx-float64(width)/(2*k), cx+float64(width)/(2*k)
	v.minY, v.maxY = cy-float64(height)/(2*k), cy+float64(height)/(2*k)
	// A tenth of a pixel is as fine as coordinates need be.
	v.decimals = min(max(int(math.Ceil(math.Log10(10*k))), 0), 7)
	return v
}

// perDegree is pixels a degree of longitude (and of the Mercator
// ordinate) at the view's zoom.
func (v mercatorView) perDegree() float64 {
	return tileWorld * math.Exp2(float64(v.zoom)) / 360
}

// pixel is where [lon, lat] falls in the image, from its top left.
func (v mercatorView) pixel(p orb.Point) orb.Point {
	return orb.Point{
		(v.wrap.lon(p.Lon()) - v.minX) / (v.maxX - v.minX) * float64(v.width),
		(v.maxY - mercatorY(p.Lat())) / (v.maxY - v.minY) * float64(v.height),
	}
}

// lonLat is pixel's inverse, with the longitude unwrapped.
func (v mercatorView) lonLat(px orb.Point) (lon, lat float64) {
	return v.minX + px.X()/float64(v.width)*(v.maxX-v.minX), mercatorLat(v.maxY - px.Y()/float64(v.height)*(v.maxY-v.minY))
}

func (v mercatorView) overlay(pts []orb.Point, filled bool) overlay {
	o := overlay{px: make([]orb.Point, len(pts)), filled: filled}
	b := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for i, p := range pts {
		o.px[i] = v.pixel(p)
		b = b.Extend(o.px[i])
	}
	o.area = (b.Max.X() - b.Min.X()) * (b.Max.Y() - b.Min.Y())
	return o
}

func (v mercatorView) baseQuery() url.Values {
	lon, lat := v.lonLat(orb.Point{float64(v.width) / 2, float64(v.height) / 2})
	q := url.Values{}
	q.Set("center", v.number(lon)+","+v.number(lat))
	q.Set("zoom", strconv.Itoa(v.zoom))
	q.Set("width", strconv.Itoa(v.width))
	q.Set("height", strconv.Itoa(v.height))
	return q
}

func (v mercatorView) number(f float64) string {
	s := strconv.FormatFloat(f, 'f', v.decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// locations writes pixels back as "lon lat|lon lat".
func (v mercatorView) locations(px []orb.Point) string {
	parts := make([]string, len(px))
	for i, p := range px {
		lon, lat := v.lonLat(p)
		parts[i] = v.number(lon) + " " + v.number(lat)
	}
	return strings.Join(parts, "|")
}

// pathParam is a path of the overlay simplified within tol pixels, or
// as much more as it takes to fit the locations a path may have; it says
// the tolerance it took.
func (v mercatorView) pathParam(o overlay, tol float64) (string, float64) {
	px := simplify(o.px, tol)
	for len(px) > maxPathLocations && tol < float64(max(v.width, v.height)) {
		tol *= 1.25
		px = simplify(o.px, tol)
	}
	px = thin(px, maxPathLocations)
	fill := "0"
	if o.filled {
		fill = "0.3"
	}
	return "lc" + fenceColour + "|fc" + fenceColour + "|lw2|fa" + fill + "||" + v.locations(px), tol
}

// pinsParams draws up to n positions of the track, thinned evenly: the
// first and the last each in their own colour, the others in groups of
// the most a pins parameter takes.
func (v mercatorView) pinsParams(track []orb.Point, n int) []string {
	if len(track) == 0 || n == 0 {
		return nil
	}
	track = thin(track, max(n, 1))
	params := []string{"default|co" + startColour + "||" + v.locations(track[:1])}
	if len(track) == 1 {
		return params
	}
	middle := track[1 : len(track)-1]
	for len(middle) > 0 {
		k := min(len(middle), maxPinLocations)
		params = append(params, "default|co"+trackColour+"||"+v.locations(middle[:k]))
		middle = middle[k:]
	}
	return append(params, "default|co"+endColour+"||"+v.locations(track[len(track)-1:]))
}

// thin keeps n of pts, evenly spread, the first and last among them.
func thin(pts []orb.Point, n int) []orb.Point {
	if len(pts) <= n {
		return pts
	}
	if n == 1 {
		return pts[:1]
	}
	out := make([]orb.Point, n)
	for i := range n {
		out[i] = pts[int(math.Round(float64(i)*float64(len(pts)-1)/float64(n-1)))]
	}
	return out
}

// simplify is Douglas-Peucker: it keeps the points that stray more than
// tol from the line through the kept points around them, and the ends. A
// ring keeps at least four points, to stay a ring.
func simplify(pts []orb.Point, tol float64) []orb.Point {
	if len(pts) <= 4 {
		return pts
	}
	keep := make([]bool, len(pts))
	keep[0], keep[len(pts)-1] = true, true
	type span struct{ a, b int }
	stack := []span{{0, len(pts) - 1}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		far, at := -1.0, -1
		for i := s.a + 1; i < s.b; i++ {
			if d := segmentDistance(pts[i], pts[s.a], pts[s.b]); d > far {
				far, at = d, i
			}
		}
		if at >= 0 && far > tol {
			keep[at] = true
			stack = append(stack, span{s.a, at}, span{at, s.b})
		}
	}
	var out []orb.Point
	for i, k := range keep {
		if k {
			out = append(out, pts[i])
		}
	}
	if len(out) < 4 && pts[0] == pts[len(pts)-1] {
		return thin(pts, 4)
	}
	return out
}

// segmentDistance is how far p is from the segment a-b.
func segmentDistance(p, a, b orb.Point) float64 {
	dx, dy := b.X()-a.X(), b.Y()-a.Y()
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = math.Max(0, math.Min(1, ((p.X()-a.X())*dx+(p.Y()-a.Y())*dy)/l2))
	}
	return math.Hypot(p.X()-a.X()-t*dx, p.Y()-a.Y()-t*dy)
}
