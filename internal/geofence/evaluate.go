package geofence

import (
	"math"
	"time"

	"github.com/paulmach/orb"
)

// How distances are measured. The nearest border point is found in an
// equirectangular projection centred on the query point, which is exact at
// the centre and off by under 0.01% within the 500 m the service reports
// at most; the distance to it is the haversine great-circle distance on a
// sphere of radius 6,378,137 m (WGS84's semi-major axis, as Azure Maps'
// spherical Mercator uses), which differs from the WGS84 ellipsoid by up
// to 0.7% depending on latitude and direction. z and extrusion are not
// supported: z is accepted and ignored, as for a 2D fence.
const earthRadius = 6378137.0

// Query is a position to check against fences.
type Query struct {
	Lat, Lon float64
	// SearchBuffer is in metres, 0 to 500; the service defaults to 50.
	SearchBuffer float64
	// UserTime decides expiry and validity periods.
	UserTime time.Time
}

// Far is the distance reported beyond the search buffer.
const Far = 999

// GeometryResult is one fence's answer, in the JSON shape of the Spatial
// service's geofence response.
type GeometryResult struct {
	// DeviceID and UDID are filled in by the service (and the emulator),
	// which answers for a device against stored fences; Evaluate leaves them.
	DeviceID   string  `json:"deviceId,omitempty"`
	UDID       string  `json:"udId,omitempty"`
	GeometryID string  `json:"geometryId"`
	Distance   float64 `json:"distance"`
	NearestLat float64 `json:"nearestLat"`
	NearestLon float64 `json:"nearestLon"`
}

// Result is where a position stands against a set of fences: the answer
// of Evaluate on the device, of the Spatial service, and of the emulator.
type Result struct {
	Geometries                      []GeometryResult `json:"geometries"`
	ExpiredGeofenceGeometryID       []string         `json:"expiredGeofenceGeometryId"`
	InvalidPeriodGeofenceGeometryID []string         `json:"invalidPeriodGeofenceGeometryId"`
}

// Evaluate measures a position against every fence. Distances are negative
// inside and positive outside; beyond SearchBuffer they are ±Far. Fences
// past their expiredTime or outside every validity period are listed
// instead of measured.
func Evaluate(fences []Fence, q Query) Result {
	res := Result{Geometries: []GeometryResult{}, ExpiredGeofenceGeometryID: []string{}, InvalidPeriodGeofenceGeometryID: []string{}}
	for _, f := range fences {
		if f.Validity != nil {
			switch f.Validity.at(q.UserTime) {
			case expired:
				res.ExpiredGeofenceGeometryID = append(res.ExpiredGeofenceGeometryID, f.GeometryID)
				continue
			case outOfPeriod:
				res.InvalidPeriodGeofenceGeometryID = append(res.InvalidPeriodGeofenceGeometryID, f.GeometryID)
				continue
			}
		}
		res.Geometries = append(res.Geometries, measure(f, q))
	}
	return res
}

// measure is one fence's answer, as reported.
func measure(f Fence, q Query) GeometryResult {
	d, nearest := Distance(f, q.Lat, q.Lon)
	return answer(f.GeometryID, d, nearest, q.SearchBuffer)
}

// answer is a fence's answer as reported: decimetres, and ±Far beyond
// the search buffer.
func answer(id string, d float64, nearest orb.Point, buffer float64) GeometryResult {
	d = math.Round(d*10)/10 + 0 // decimetres, as reported; + 0 turns -0 into 0
	if math.Abs(d) > buffer {
		d = math.Copysign(Far, d)
	}
	return GeometryResult{
		GeometryID: id,
		Distance:   d,
		NearestLat: nearest[1],
		NearestLon: nearest[0],
	}
}

// Inside reports whether a distance means inside the fence.
func Inside(distance float64) bool { return distance < 0 }

// Distance is the signed distance in metres from a position to a fence's
// border, and the nearest border point as [lon, lat].
func Distance(f Fence, lat, lon float64) (float64, orb.Point) {
	pr := newProjection(lat, lon)
	switch g := f.Geometry.(type) {
	case orb.Polygon:
		return pr.polygons([]orb.Polygon{g})
	case orb.MultiPolygon:
		return pr.polygons(g)
	case orb.Point:
		return pr.lines([]orb.LineString{{g}}, f.Radius)
	case orb.MultiPoint:
		lines := make([]orb.LineString, len(g))
		for i, p := range g {
			lines[i] = orb.LineString{p}
		}
		return pr.lines(lines, f.Radius)
	case orb.LineString:
		return pr.lines([]orb.LineString{g}, f.Radius)
	case orb.MultiLineString:
		return pr.lines(g, f.Radius)
	}
	return math.Inf(1), orb.Point{}
}

// projection maps [lon, lat] to metres east and north of the query point.
type projection struct {
	lat0, lon0, kx, ky float64
	cos0, sin0         float64 // of lat0, which haversine needs too
}

func newProjection(lat, lon float64) projection {
	ky := earthRadius * math.Pi / 180
	sin0, cos0 := math.Sincos(lat * math.Pi / 180)
	return projection{lat0: lat, lon0: lon, ky: ky, kx: ky * cos0, cos0: cos0, sin0: sin0}
}

func (p projection) xy(pt orb.Point) (float64, float64) {
	dlon := pt[0] - p.lon0
	// Take the short way round the antimeridian.
	if dlon > 180 {
		dlon -= 360
	} else if dlon < -180 {
		dlon += 360
	}
	return dlon * p.kx, (pt[1] - p.lat0) * p.ky
}

func (p projection) lonLat(x, y float64) orb.Point {
	lon := p.lon0
	if p.kx != 0 {
		lon += x / p.kx
	}
	return orb.Point{wrapLon(lon), p.lat0 + y/p.ky}
}

// edgeXY projects the edge from a to b, which takes the short way across
// the antimeridian: xy wraps each end on its own, which splits an edge
// that passes the meridian opposite the query point, so the far end is
// moved by a turn to keep the edge whole.
func (p projection) edgeXY(a, b orb.Point) (ax, ay, bx, by float64) {
	ax, ay = p.xy(a)
	bx, by = p.xy(b)
	if p.kx == 0 || (math.Abs(a[0]-p.lon0) <= 180 && math.Abs(b[0]-p.lon0) <= 180 && math.Abs(b[0]-a[0]) <= 180) {
		return ax, ay, bx, by // the common case: nothing wraps
	}
	// want is b's offset from a along the edge, in projected metres.
	want := (b[0] + shortTurn(a[0], b[0]) - a[0]) * p.kx
	turn := 360 * p.kx
	switch {
	case bx-ax-want > turn/2:
		bx -= turn
	case bx-ax-want < -turn/2:
		bx += turn
	}
	// An edge the whole way round (from -180 to 180) may pass the query
	// point on the other copy of it.
	lo, hi := min(ax, bx), max(ax, bx)
	switch {
	case lo > 0 && turn-hi < lo:
		ax, bx = ax-turn, bx-turn
	case hi < 0 && lo+turn < -hi:
		ax, bx = ax+turn, bx+turn
	}
	return ax, ay, bx, by
}

// wrapLon brings a longitude back into -180..180.
func wrapLon(lon float64) float64 {
	switch {
	case lon > 180:
		return lon - 360
	case lon < -180:
		return lon + 360
	}
	return lon
}

// shortTurn is what to add to the longitude of an edge's end so that the
// edge from a to b takes the short way across the antimeridian (the GeoJSON
// convention the service follows): ±360 when they are more than 180° apart.
// An edge from -180 to 180 is left to run the whole way round, as a box
// round the world means it to.
func shortTurn(a, b float64) float64 {
	switch d := b - a; {
	case d > 180 && d < 360:
		return -360
	case d < -180 && d > -360:
		return 360
	}
	return 0
}

// nearest is the point of a polyline (or a single point) closest to the
// origin, in projected metres.
func (p projection) nearest(ls orb.LineString) (float64, float64) {
	bx, by := math.Inf(1), math.Inf(1)
	best := math.Inf(1)
	if len(ls) == 1 {
		return p.xy(ls[0])
	}
	for i := 0; i+1 < len(ls); i++ {
		x, y, _ := p.segmentNearest(ls[i], ls[i+1])
		if d := x*x + y*y; d < best {
			best, bx, by = d, x, y
		}
	}
	return bx, by
}

// segmentNearest is the point of the edge from a to b closest to the
// origin, in projected metres, and where along the edge it lies, from 0
// at a to 1 at b.
func (p projection) segmentNearest(a, b orb.Point) (x, y, t float64) {
	ax, ay, cx, cy := p.edgeXY(a, b)
	dx, dy := cx-ax, cy-ay
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = -(ax*dx + ay*dy) / l2
		t = max(0, min(1, t)) // the builtins, which skip math.Max's care for NaN and -0
	}
	return ax + t*dx, ay + t*dy, t
}

func (p projection) haversine(to orb.Point) float64 {
	dlat := (to[1] - p.lat0) * math.Pi / 180
	dlon := wrapLon(to[0]-p.lon0) * math.Pi / 180
	if math.Abs(dlat) > smallAngle || math.Abs(dlon) > smallAngle {
		lat2 := to[1] * math.Pi / 180
		sinLat, sinLon := math.Sin(dlat/2), math.Sin(dlon/2)
		a := sinLat*sinLat + p.cos0*math.Cos(lat2)*sinLon*sinLon
		return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
	}
	// Within tens of kilometres, where nearly every answer is, the same
	// formula from series cut where their next terms fall below a
	// double's precision, with no division: 17 ns where math's
	// functions take 69.
	l2 := dlat * dlat
	sinDlat := dlat * (1 - l2*(1.0/6)*(1-l2*(1.0/20)*(1-l2*(1.0/42))))
	cosDlat := 1 - l2*0.5*(1-l2*(1.0/12)*(1-l2*(1.0/30)*(1-l2*(1.0/56))))
	cos2 := p.cos0*cosDlat - p.sin0*sinDlat // cos(lat0 + dlat)
	sinLat, sinLon := halfSin(dlat), halfSin(dlon)
	s := math.Sqrt(sinLat*sinLat + p.cos0*cos2*sinLon*sinLon)
	s2 := s * s
	return 2 * earthRadius * s * (1 + s2*(1.0/6+s2*(3.0/40+s2*(5.0/112+s2*(35.0/1152)))))
}

// smallAngle is where haversine's series hold: their first term left
// out is below 1e-17 of the sum up to 0.01 radians (64 km).
const smallAngle = 0.01

// halfSin is sin(x/2) for |x| up to smallAngle.
func halfSin(x float64) float64 {
	h := x * 0.5
	h2 := h * h
	return h * (1 - h2*(1.0/6)*(1-h2*(1.0/20)*(1-h2*(1.0/42))))
}

// lines handles points and lines with a radius: inside within radius.
func (p projection) lines(lines []orb.LineString, radius float64) (float64, orb.Point) {
	best := math.Inf(1)
	var nx, ny float64
	for _, ls := range lines {
		x, y := p.nearest(ls)
		if d := math.Hypot(x, y); d < best {
			best, nx, ny = d, x, y
		}
	}
	return p.buffered(nx, ny, radius)
}

// buffered is the answer for a point or line whose nearest point is
// (nx, ny), grown by radius.
func (p projection) buffered(nx, ny, radius float64) (float64, orb.Point) {
	core := p.lonLat(nx, ny)
	d := p.haversine(core)
	// The nearest border point lies on the way from the core to the query
	// point, radius away from the core.
	var bx, by float64
	if d > 0 {
		s := radius / math.Hypot(nx, ny)
		bx, by = nx-nx*s, ny-ny*s
	} else {
		bx, by = nx, ny+radius // at the core: any direction; north
	}
	return d - radius, p.lonLat(bx, by)
}

func (p projection) polygons(polys []orb.Polygon) (float64, orb.Point) {
	pt := orb.Point{p.lon0, p.lat0}
	inside := false
	best := math.Inf(1)
	var nx, ny float64
	for _, poly := range polys {
		in := false
		for ri, ring := range poly {
			x, y, ringIn, ok := p.ringPass(ring, pt)
			if !ok {
				x, y = p.ringNearest(ring)
				ringIn = ringContains(ring, pt)
			}
			// polygonContains: inside the outer ring and outside every hole.
			if ri == 0 {
				in = ringIn
			} else if ringIn {
				in = false
			}
			if d := math.Hypot(x, y); d < best {
				best, nx, ny = d, x, y
			}
		}
		inside = inside || in
	}
	return p.signed(nx, ny, inside)
}

// ringNearest is nearest for a ring, less the edges along the seam of a
// ring the whole way round the globe (see seamOf).
func (p projection) ringNearest(r orb.Ring) (float64, float64) {
	lo, hi, whole := seamOf(r)
	if !whole {
		return p.nearest(orb.LineString(r))
	}
	bx, by := math.Inf(1), math.Inf(1)
	best := math.Inf(1)
	off := 0.0 // turns added to r[i]
	for i := 0; i+1 < len(r); i++ {
		next := off + shortTurn(r[i][0], r[i+1][0])
		if !onSeam(r[i][0]+off, r[i+1][0]+next, lo, hi) {
			x, y, _ := p.segmentNearest(r[i], r[i+1])
			if d := x*x + y*y; d < best {
				best, bx, by = d, x, y
			}
		}
		off = next
	}
	return bx, by
}

// seamOf is where a ring that goes the whole way round the globe meets
// itself: along the meridian at the unwrapped longitude lo, which is also
// hi, a turn east. An edge along it runs between two copies of the ring's
// inside, so it is no border: a band round the world has its border north
// and south, not at ±180. ok is false for every other ring.
func seamOf(r orb.Ring) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	off := 0.0
	for i, pt := range r {
		if i > 0 {
			off += shortTurn(r[i-1][0], pt[0])
		}
		lo, hi = min(lo, pt[0]+off), max(hi, pt[0]+off)
	}
	return lo, hi, hi-lo >= 360
}

// onSeam reports whether the edge between the unwrapped longitudes a and
// b runs along the seam at lo and hi.
func onSeam(a, b, lo, hi float64) bool {
	return a == b && (a == lo || a == hi)
}

// ringPass is nearest and ringContains in one pass, each vertex projected
// once, for a ring that needs no unwrapping: every vertex within 180° of
// the query point and no edge across the antimeridian. Most rings are; it
// is not ok for the rest. The arithmetic is theirs, so are the answers.
func (p projection) ringPass(r orb.Ring, pt orb.Point) (nx, ny float64, in, ok bool) {
	if len(r) < 2 || math.Abs(r[0][0]-p.lon0) > 180 {
		return 0, 0, false, false
	}
	best := math.Inf(1)
	a := r[0]
	ax, ay := (a[0]-p.lon0)*p.kx, (a[1]-p.lat0)*p.ky
	for _, b := range r[1:] {
		if math.Abs(b[0]-p.lon0) > 180 || math.Abs(b[0]-a[0]) > 180 {
			return 0, 0, false, false
		}
		bx, by := (b[0]-p.lon0)*p.kx, (b[1]-p.lat0)*p.ky
		dx, dy := bx-ax, by-ay
		t := 0.0
		if l2 := dx*dx + dy*dy; l2 > 0 {
			t = max(0, min(1, -(ax*dx+ay*dy)/l2))
		}
		if x, y := ax+t*dx, ay+t*dy; x*x+y*y < best {
			best, nx, ny = x*x+y*y, x, y
		}
		// ringContains tests the edge from its later vertex: b here.
		if (b[1] > pt[1]) != (a[1] > pt[1]) && pt[0] < (a[0]-b[0])*(pt[1]-b[1])/(a[1]-b[1])+b[0] {
			in = !in
		}
		a, ax, ay = b, bx, by
	}
	// The closing edge, of no length when the ring is closed.
	if a, b := r[len(r)-1], r[0]; (b[1] > pt[1]) != (a[1] > pt[1]) && pt[0] < (a[0]-b[0])*(pt[1]-b[1])/(a[1]-b[1])+b[0] {
		in = !in
	}
	return nx, ny, in, true
}

// signed is the answer for a polygon whose border is nearest at (nx, ny).
func (p projection) signed(nx, ny float64, inside bool) (float64, orb.Point) {
	nearest := p.lonLat(nx, ny)
	d := p.haversine(nearest)
	if inside {
		d = -d
	}
	return d, nearest
}

// polygonContains is even-odd ray casting: inside the outer ring and
// outside every hole.
func polygonContains(poly orb.Polygon, pt orb.Point) bool {
	if len(poly) == 0 || !ringContains(poly[0], pt) {
		return false
	}
	for _, hole := range poly[1:] {
		if ringContains(hole, pt) {
			return false
		}
	}
	return true
}

// ringContains is even-odd ray casting with every edge taken the short way
// across the antimeridian. The ring's longitudes are unwrapped as it is
// walked (a vertex may land anywhere in -540..540), so the point is tried
// at its own longitude and a turn either side. This reads a ring
// unambiguously when the walk makes no net turn (the ring does not go round
// a pole) and spans at most 360° unwrapped; validation reports the rest.
// For a ring that never crosses the antimeridian every offset is 0 and the
// arithmetic is the plain planar test.
func ringContains(r orb.Ring, pt orb.Point) bool {
	if len(r) == 0 {
		return false
	}
	var in [3]bool // the point at its longitude, 360° west, 360° east
	cross := func(a, b orb.Point, offA, offB float64) {
		if (a[1] > pt[1]) == (b[1] > pt[1]) {
			return
		}
		ax, bx := a[0]+offA, b[0]+offB
		x := (bx-ax)*(pt[1]-a[1])/(b[1]-a[1]) + ax
		in[0] = in[0] != (pt[0] < x)
		in[1] = in[1] != (pt[0]-360 < x)
		in[2] = in[2] != (pt[0]+360 < x)
	}
	off := 0.0 // turns added to r[i-1]
	for i := 1; i < len(r); i++ {
		next := off + shortTurn(r[i-1][0], r[i][0])
		cross(r[i], r[i-1], next, off)
		off = next
	}
	// The closing edge; zero length when the ring is closed.
	cross(r[0], r[len(r)-1], off+shortTurn(r[len(r)-1][0], r[0][0]), off)
	return in[0] || in[1] || in[2]
}

// standing is where a fence's validityTime puts it at a moment.
type standing int

const (
	active standing = iota
	expired
	outOfPeriod
)

func (v *Validity) at(t time.Time) standing {
	if v.Expired != nil && !t.Before(*v.Expired) {
		return expired
	}
	if len(v.Periods) > 0 && !v.activeAt(t) {
		return outOfPeriod
	}
	return active
}

// activeAt reports whether any validity period covers t.
func (v *Validity) activeAt(t time.Time) bool {
	for _, p := range v.Periods {
		if p.covers(t) {
			return true
		}
	}
	return false
}

func (p Period) covers(t time.Time) bool {
	if p.BusinessDayOnly && (t.Weekday() == time.Saturday || t.Weekday() == time.Sunday) {
		return false
	}
	if t.Before(p.Start) {
		return false
	}
	start := p.Start
	switch p.Recurrence {
	case "":
	case "Daily", "Weekly":
		step := 24 * time.Hour * time.Duration(max(p.Frequency, 1))
		if p.Recurrence == "Weekly" {
			step *= 7
		}
		start = p.Start.Add(t.Sub(p.Start) / step * step)
	default: // Monthly, Yearly: months differ in length, so count them.
		elapsed := t.Year() - p.Start.Year()
		if p.Recurrence == "Monthly" {
			elapsed = elapsed*12 + int(t.Month()) - int(p.Start.Month())
		}
		// The n-th occurrence is in the month (or year) elapsed/step, or a
		// later one where a short month pushes it on; step back past t.
		n := elapsed / max(p.Frequency, 1)
		for n > 0 && p.occurrence(n).After(t) {
			n--
		}
		if n > 0 {
			start = p.occurrence(n)
		}
	}
	return t.Before(start.Add(p.End.Sub(p.Start)))
}

// occurrence is the start of the n-th repetition.
func (p Period) occurrence(n int) time.Time {
	k := n * max(p.Frequency, 1)
	switch p.Recurrence {
	case "Daily":
		return p.Start.AddDate(0, 0, k)
	case "Weekly":
		return p.Start.AddDate(0, 0, 7*k)
	case "Monthly":
		return p.Start.AddDate(0, k, 0)
	default:
		return p.Start.AddDate(k, 0, 0)
	}
}
