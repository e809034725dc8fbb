package fencemap_test

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/mapsdevice/mapsdevice/internal/fencemap"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// staticView is the image a query asks for, read back as the service
// reads it: Web Mercator at a zoom level, 512-pixel tiles, centred.
type staticView struct {
	zoom                 int
	left, top            float64
	width, height        int
	centreLon, centreLat float64
}

func worldPixel(lon, lat float64, zoom int) (float64, float64) {
	n := 512 * math.Exp2(float64(zoom))
	s := math.Sin(lat * math.Pi / 180)
	return (lon + 180) / 360 * n, (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n
}

func readView(t *testing.T, img fencemap.Image) staticView {
	t.Helper()
	q := img.Query
	var v staticView
	var err error
	if v.zoom, err = strconv.Atoi(q.Get("zoom")); err != nil {
		t.Fatalf("zoom %q", q.Get("zoom"))
	}
	v.width, _ = strconv.Atoi(q.Get("width"))
	v.height, _ = strconv.Atoi(q.Get("height"))
	if q.Has("bbox") {
		t.Error("bbox is sent with width and height, which the service refuses")
	}
	lon, lat, ok := strings.Cut(q.Get("center"), ",")
	if !ok {
		t.Fatalf("center %q", q.Get("center"))
	}
	v.centreLon, _ = strconv.ParseFloat(lon, 64)
	v.centreLat, _ = strconv.ParseFloat(lat, 64)
	if v.centreLon < -180 || v.centreLon > 180 {
		t.Errorf("center longitude %v is out of -180 to 180", v.centreLon)
	}
	x, y := worldPixel(v.centreLon, v.centreLat, v.zoom)
	v.left, v.top = x-float64(v.width)/2, y-float64(v.height)/2
	return v
}

func (v staticView) pixel(lon, lat float64) orb.Point {
	x, y := worldPixel(lon, lat, v.zoom)
	return orb.Point{x - v.left, y - v.top}
}

// locations reads the "lon lat|lon lat" after the style of a path or pins.
func locations(t *testing.T, param string) (style string, pts []orb.Point) {
	t.Helper()
	style, locs, ok := strings.Cut(param, "||")
	if !ok {
		t.Fatalf("no || in %q", param)
	}
	for _, l := range strings.Split(locs, "|") {
		lon, lat, ok := strings.Cut(l, " ")
		x, err1 := strconv.ParseFloat(lon, 64)
		y, err2 := strconv.ParseFloat(lat, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("location %q", l)
		}
		if x < -360 || x > 360 || y < -90 || y > 90 {
			t.Errorf("location %q is out of range", l)
		}
		pts = append(pts, orb.Point{x, y})
	}
	return style, pts
}

// samePixel is whether a written location is where p is, within the
// tenth of a pixel coordinates are rounded to.
func samePixel(v staticView, written, p orb.Point) bool {
	a, b := v.pixel(written.X(), written.Y()), v.pixel(p.X(), p.Y())
	return math.Hypot(a.X()-b.X(), a.Y()-b.Y()) <= 0.2
}

// pixelDistance is how far p is from a polyline.
func pixelDistance(p orb.Point, line []orb.Point) float64 {
	best := math.Inf(1)
	for i := 1; i < len(line); i++ {
		a, b := line[i-1], line[i]
		dx, dy := b.X()-a.X(), b.Y()-a.Y()
		t := 0.0
		if l2 := dx*dx + dy*dy; l2 > 0 {
			t = math.Max(0, math.Min(1, ((p.X()-a.X())*dx+(p.Y()-a.Y())*dy)/l2))
		}
		best = math.Min(best, math.Hypot(p.X()-a.X()-t*dx, p.Y()-a.Y()-t*dy))
	}
	return best
}

// wiggly is a polygon of n vertices around lon, lat, about r degrees
// across, with a ripple that simplification must keep within a pixel.
func wiggly(id string, lon, lat, r float64, n int) geofence.Fence {
	ring := make(orb.Ring, 0, n+1)
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		rr := r * (1 + 0.05*math.Sin(12*a) + 0.002*math.Sin(400*a))
		ring = append(ring, orb.Point{lon + rr*math.Cos(a), lat + rr*math.Sin(a)})
	}
	return geofence.Fence{GeometryID: id, Kind: geofence.KindPolygon, Geometry: orb.Polygon{append(ring, ring[0])}}
}

func TestStaticImageFitsTheLimits(t *testing.T) {
	var many []geofence.Fence
	for i := range 15 {
		many = append(many, square(fmt.Sprint(i), -122.2+0.01*float64(i), 47.6, 0.002+0.0005*float64(i)))
	}
	var longTrack []orb.Point
	for i := range 3000 {
		longTrack = append(longTrack, orb.Point{-122.15 + 0.0001*float64(i%700), 47.6 + 0.00003*float64(i)})
	}
	guide := []geofence.Fence{circleFence("001", -122.126986, 47.639754, 500)}
	cases := []struct {
		name       string
		scene      fencemap.Scene
		w, h       int
		rings      int
		ringsTotal int
	}{
		{"guide fence", fencemap.Scene{Fences: guide}, 800, 600, 1, 1},
		{"detailed ring", fencemap.Scene{Fences: []geofence.Fence{wiggly("w", 13.4, 52.5, 0.05, 5000)}}, 2000, 1500, 1, 1},
		{"fifteen fences", fencemap.Scene{Fences: many}, 640, 480, 10, 15},
		{"long track", fencemap.Scene{Fences: guide, Track: longTrack}, 1024, 768, 1, 1},
		{"smallest", fencemap.Scene{Fences: guide, Track: longTrack[:10]}, 80, 80, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := fencemap.StaticImage(c.scene, c.w, c.h)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(img.Query.Encode()); n > fencemap.MaxQuery {
				t.Errorf("the query is %d bytes", n)
			}
			v := readView(t, img)
			if v.width != c.w || v.height != c.h {
				t.Errorf("asks for %d×%d, want %d×%d", v.width, v.height, c.w, c.h)
			}
			paths := img.Query["path"]
			if len(paths) != c.rings || img.Rings != c.rings || img.RingsTotal != c.ringsTotal {
				t.Errorf("%d paths, Rings %d of %d; want %d of %d", len(paths), img.Rings, img.RingsTotal, c.rings, c.ringsTotal)
			}
			for _, p := range paths {
				style, pts := locations(t, p)
				if len(pts) > 100 {
					t.Errorf("a path of %d locations", len(pts))
				}
				if !strings.HasPrefix(style, "lc") || !strings.Contains(style, "|fa") {
					t.Errorf("path style %q", style)
				}
				for _, pt := range pts {
					px := v.pixel(pt.X(), pt.Y())
					if px.X() < 0 || px.Y() < 0 || px.X() > float64(c.w) || px.Y() > float64(c.h) {
						t.Errorf("location %v is drawn at pixel %v, outside the image", pt, px)
					}
				}
			}
			pins := img.Query["pins"]
			if len(pins) > 25 {
				t.Errorf("%d pins parameters", len(pins))
			}
			total := 0
			for i, p := range pins {
				style, pts := locations(t, p)
				if len(pts) > 50 {
					t.Errorf("a pins parameter of %d locations", len(pts))
				}
				total += len(pts)
				if i == 0 && (style != "default|co107C10" || !samePixel(v, pts[0], c.scene.Track[0])) {
					t.Errorf("the first pins are %q %v, want the first position in green", style, pts)
				}
			}
			if len(c.scene.Track) > 0 {
				last := pins[len(pins)-1]
				style, pts := locations(t, last)
				if style != "default|coD13438" || !samePixel(v, pts[0], c.scene.Track[len(c.scene.Track)-1]) {
					t.Errorf("the last pins are %q %v, want the last position in red", style, pts)
				}
			}
			if total != img.Pins {
				t.Errorf("%d pins drawn, Pins says %d", total, img.Pins)
			}
		})
	}
}

// TestStaticImageKeepsTheShape: a 5000-vertex ring is simplified to at
// most 100 locations that stay within the stated tolerance of it, in the
// image's pixels.
func TestStaticImageKeepsTheShape(t *testing.T) {
	f := wiggly("w", 13.4, 52.5, 0.05, 5000)
	img, err := fencemap.StaticImage(fencemap.Scene{Fences: []geofence.Fence{f}}, 1200, 900)
	if err != nil {
		t.Fatal(err)
	}
	v := readView(t, img)
	_, pts := locations(t, img.Query.Get("path"))
	drawn := make([]orb.Point, len(pts))
	for i, p := range pts {
		drawn[i] = v.pixel(p.X(), p.Y())
	}
	var fence []orb.Point
	for _, p := range f.Geometry.(orb.Polygon)[0] {
		fence = append(fence, v.pixel(p.X(), p.Y()))
	}
	worst := 0.0
	for _, p := range fence {
		worst = math.Max(worst, pixelDistance(p, drawn))
	}
	t.Logf("%d of %d vertices, tolerance %v px, worst %.2f px, zoom %d", len(pts), len(fence), img.Tolerance, worst, v.zoom)
	if worst > img.Tolerance+0.5 {
		t.Errorf("the drawn ring strays %.2f px from the fence; the tolerance is %v", worst, img.Tolerance)
	}
	if drawn[0] != drawn[len(drawn)-1] {
		t.Error("the drawn ring is not closed")
	}
	// The fence fills a good part of the image: the zoom is the closest
	// that holds it.
	b := orb.LineString(fence).Bound()
	w, h := b.Max.X()-b.Min.X(), b.Max.Y()-b.Min.Y()
	if fill := math.Max(w/1200, h/900); fill < 1/2.0/1.2 || fill > 1 {
		t.Errorf("the fence is %.0f×%.0f px in a 1200×900 image", w, h)
	}
}

// TestStaticImageAntimeridian: a fence across 180° is drawn from a centre
// near it, its path continuous, at a close zoom.
func TestStaticImageAntimeridian(t *testing.T) {
	f := geofence.Fence{GeometryID: "dateline", Kind: geofence.KindPolygon, Geometry: orb.Polygon{{
		{179.99, -16.8}, {-179.99, -16.8}, {-179.99, -16.78}, {179.99, -16.78}, {179.99, -16.8},
	}}}
	img, err := fencemap.StaticImage(fencemap.Scene{Fences: []geofence.Fence{f}}, 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	v := readView(t, img)
	if v.zoom < 12 || math.Abs(math.Abs(v.centreLon)-180) > 0.01 {
		t.Errorf("centre %v, %v at zoom %d, want about ±180 at a close zoom", v.centreLon, v.centreLat, v.zoom)
	}
	_, pts := locations(t, img.Query.Get("path"))
	for i := 1; i < len(pts); i++ {
		if d := math.Abs(pts[i].X() - pts[i-1].X()); d > 1 {
			t.Errorf("the path jumps %v° between %v and %v", d, pts[i-1], pts[i])
		}
	}
	for _, p := range pts {
		if px := v.pixel(p.X(), p.Y()); px.X() < 0 || px.X() > 800 {
			t.Errorf("location %v is drawn at pixel %v, outside the image", p, px)
		}
	}
}

func TestStaticImageRefuses(t *testing.T) {
	sc := fencemap.Scene{Track: []orb.Point{{0, 0}}}
	for _, size := range [][2]int{{79, 600}, {2001, 600}, {800, 79}, {800, 1501}} {
		if _, err := fencemap.StaticImage(sc, size[0], size[1]); err == nil {
			t.Errorf("asked for %dx%d", size[0], size[1])
		}
	}
	if _, err := fencemap.StaticImage(fencemap.Scene{}, 800, 600); err == nil {
		t.Error("an image of nothing")
	}
}
