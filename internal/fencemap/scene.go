// Package fencemap draws geofences and a track of positions, so that
// people can look at a fence rather than read its coordinates: in a
// terminal with Unicode braille (Draw), and as the overlays of an Azure
// Maps Render static image (StaticImage). It does no I/O.
package fencemap

import (
	"errors"
	"math"
	"slices"

	"github.com/paulmach/orb"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// Scene is what to draw: fences, and a track of positions in the order
// they were read, each [lon, lat].
type Scene struct {
	Fences []geofence.Fence
	Track  []orb.Point
}

// ErrEmpty is a scene with no fence and no position.
var ErrEmpty = errors.New("nothing to draw: no fence and no position")

// metresPerDegree is the length of a degree of latitude, on the sphere
// of the Earth's mean radius that the geofence evaluation uses too.
const metresPerDegree = 6371008.8 * math.Pi / 180

// circle is a Point fence with its radius, in metres.
type circle struct {
	centre orb.Point
	radius float64
}

// shape is one fence ready to draw, in [lon, lat].
type shape struct {
	id      string
	rings   []orb.Ring       // polygon rings, outer first in each polygon
	holes   []bool           // whether rings[i] is a hole
	lines   []orb.LineString // line fences, drawn without their radius
	circles []circle         // Point and MultiPoint fences, with their radius
}

func shapesOf(fences []geofence.Fence) []shape {
	shapes := make([]shape, 0, len(fences))
	for _, f := range fences {
		s := shape{id: f.GeometryID}
		switch g := f.Geometry.(type) {
		case orb.Point:
			s.circles = append(s.circles, circle{g, f.Radius})
		case orb.MultiPoint:
			for _, p := range g {
				s.circles = append(s.circles, circle{p, f.Radius})
			}
		case orb.LineString:
			s.lines = append(s.lines, g)
		case orb.MultiLineString:
			s.lines = append(s.lines, g...)
		case orb.Polygon:
			s.addPolygon(g)
		case orb.MultiPolygon:
			for _, p := range g {
				s.addPolygon(p)
			}
		}
		shapes = append(shapes, s)
	}
	return shapes
}

func (s *shape) addPolygon(p orb.Polygon) {
	for i, r := range p {
		s.rings = append(s.rings, r)
		s.holes = append(s.holes, i > 0)
	}
}

// circleRing is a circle as a closed ring of n+1 positions, for where
// only lines can be drawn.
func circleRing(c circle, n int) orb.Ring {
	cos := math.Max(math.Cos(c.centre.Lat()*math.Pi/180), 0.01)
	ring := make(orb.Ring, 0, n+1)
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		ring = append(ring, orb.Point{
			c.centre.Lon() + c.radius*math.Cos(a)/(metresPerDegree*cos),
			c.centre.Lat() + c.radius*math.Sin(a)/metresPerDegree,
		})
	}
	return append(ring, ring[0])
}

// lonWrap places longitudes in one run of 360° that starts just east of
// the widest gap between them, so that a fence across the antimeridian
// spans the few degrees it covers, not the whole world.
type lonWrap struct{ west float64 }

func newLonWrap(lons []float64) lonWrap {
	if len(lons) == 0 {
		return lonWrap{west: -180}
	}
	norm := make([]float64, len(lons))
	for i, l := range lons {
		norm[i] = math.Mod(math.Mod(l+180, 360)+360, 360) - 180
	}
	slices.Sort(norm)
	west, widest := norm[0], -1.0
	for i, l := range norm {
		next := norm[0] + 360
		if i+1 < len(norm) {
			next = norm[i+1]
		}
		if gap := next - l; gap > widest {
			widest = gap
			west = next
			if west >= 180 {
				west -= 360
			}
		}
	}
	return lonWrap{west: west}
}

// lon is l in the run [west, west+360).
func (w lonWrap) lon(l float64) float64 {
	return w.west + math.Mod(math.Mod(l-w.west, 360)+360, 360)
}

// points lists every position a scene draws through, circles as the four
// ends of their radius, for the view to hold them all.
func points(shapes []shape, track []orb.Point) []orb.Point {
	var pts []orb.Point
	for _, s := range shapes {
		for _, r := range s.rings {
			pts = append(pts, r...)
		}
		for _, l := range s.lines {
			pts = append(pts, l...)
		}
		for _, c := range s.circles {
			pts = append(pts, circleRing(c, 4)...)
		}
	}
	return append(pts, track...)
}
