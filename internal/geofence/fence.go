// Package geo is the geofence side of mapsdevice: the GeoJSON geofence
// model and its validation, evaluation of a position against fences with
// the semantics of the Azure Maps Spatial service, and the Maps REST client
// (Data v2 and Spatial geofence).
//
// Geometries use github.com/paulmach/orb: well kept, plain Go types for
// every GeoJSON geometry, with spherical distance helpers. Decoding is our
// own, so that validation can report every problem with a JSON pointer
// instead of stopping at the first one an unmarshaller meets.
package geofence

import (
	"time"

	"github.com/paulmach/orb"
)

// Kind is what a fence's geometry means.
type Kind string

// The kinds of fence.
const (
	KindCircle  Kind = "Circle"     // Point with subType Circle and a radius
	KindPoint   Kind = "Point"      // Point or MultiPoint with a radius
	KindLine    Kind = "LineString" // LineString or MultiLineString with a radius
	KindPolygon Kind = "Polygon"    // Polygon or MultiPolygon
)

// Fence is one geofence geometry.
type Fence struct {
	GeometryID string
	Kind       Kind
	// Geometry is an orb.Point, MultiPoint, LineString, MultiLineString,
	// Polygon or MultiPolygon, in [lon, lat].
	Geometry orb.Geometry
	// Radius in metres, for every kind but Polygon.
	Radius   float64
	Validity *Validity
}

// Validity is a fence's validityTime.
type Validity struct {
	Expired *time.Time
	Periods []Period
}

// Period is one validityPeriod entry.
type Period struct {
	Start, End      time.Time
	Recurrence      string // "", Daily, Weekly, Monthly or Yearly
	Frequency       int
	BusinessDayOnly bool
}
