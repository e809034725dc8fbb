package geofence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// MaxUploadSize is the service's limit for one upload.
const MaxUploadSize = 100 << 20

// ErrTooLarge means the input is over MaxUploadSize.
var ErrTooLarge = errors.New("the GeoJSON is larger than the 100 MB the service accepts")

// Problem is one thing wrong with a geofence file.
type Problem struct {
	// Feature is the index of the feature, or -1 for the document.
	Feature    int    `json:"feature"`
	GeometryID string `json:"geometryId,omitempty"`
	// Pointer is an RFC 6901 JSON pointer to the field.
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	where := "document"
	if p.Feature >= 0 {
		where = fmt.Sprintf("feature %d", p.Feature)
		if p.GeometryID != "" {
			where += fmt.Sprintf(" (geometryId %q)", p.GeometryID)
		}
	}
	ptr := p.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("%s at %s: %s", where, ptr, p.Message)
}

// InvalidError holds every problem found.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	return fmt.Sprintf("the geofence GeoJSON has %d problem(s); the first: %s", len(e.Problems), e.Problems[0])
}

// maxProblems bounds the report for hopeless inputs.
const maxProblems = 1000

// Parse reads a geofence Feature or FeatureCollection, reading at most
// MaxUploadSize bytes. It returns the fences, or an *InvalidError listing
// every problem.
func Parse(r io.Reader) ([]Fence, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxUploadSize+1))
	if err != nil {
		return nil, fmt.Errorf("read GeoJSON: %w", err)
	}
	if len(data) > MaxUploadSize {
		return nil, ErrTooLarge
	}
	return ParseBytes(data)
}

// ParseBytes is Parse for data already in memory.
func ParseBytes(data []byte) ([]Fence, error) {
	v := &validator{}
	fences := v.document(data)
	if len(v.problems) > 0 {
		return nil, &InvalidError{Problems: v.problems}
	}
	return fences, nil
}

type validator struct {
	problems []Problem
	feature  int
	id       string
}

func (v *validator) add(ptr, format string, args ...any) {
	if len(v.problems) >= maxProblems {
		return
	}
	v.problems = append(v.problems, Problem{Feature: v.feature, GeometryID: v.id, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
}

type rawObject map[string]json.RawMessage

func (v *validator) document(data []byte) []Fence {
	v.feature = -1
	var doc rawObject
	if err := json.Unmarshal(data, &doc); err != nil {
		v.add("", "not valid JSON: %s", jsonError(data, err))
		return nil
	}
	var typ string
	_ = json.Unmarshal(doc["type"], &typ)
	switch typ {
	case "FeatureCollection":
		var features []json.RawMessage
		if err := json.Unmarshal(doc["features"], &features); err != nil || doc["features"] == nil {
			v.add("/features", "a FeatureCollection needs a \"features\" array")
			return nil
		}
		if len(features) == 0 {
			v.add("/features", "the collection has no features: add at least one")
		}
		return v.features(features, "/features/")
	case "Feature":
		return v.features([]json.RawMessage{data}, "")
	default:
		v.add("/type", "type is %q: use \"FeatureCollection\" or \"Feature\"", typ)
		return nil
	}
}

func (v *validator) features(raw []json.RawMessage, prefix string) []Fence {
	seen := map[string]int{}
	var fences []Fence
	for i, r := range raw {
		base := ""
		if prefix != "" {
			base = prefix + strconv.Itoa(i)
		}
		v.feature, v.id = i, ""
		f, ok := v.feature1(r, base, seen)
		if ok {
			fences = append(fences, f)
		}
	}
	return fences
}

func (v *validator) feature1(raw json.RawMessage, base string, seen map[string]int) (Fence, bool) {
	before := len(v.problems)
	var obj rawObject
	if err := json.Unmarshal(raw, &obj); err != nil {
		v.add(base, "a feature must be a JSON object")
		return Fence{}, false
	}
	var typ string
	_ = json.Unmarshal(obj["type"], &typ)
	if typ != "Feature" {
		v.add(base+"/type", "type is %q: use \"Feature\"", typ)
	}
	var props rawObject
	if err := json.Unmarshal(obj["properties"], &props); err != nil || props == nil {
		v.add(base+"/properties", "properties must be an object holding at least a geometryId")
		props = rawObject{}
	}
	f := Fence{}
	// geometryId: present, a non-empty string, unique.
	switch idRaw, ok := props["geometryId"]; {
	case !ok:
		v.add(base+"/properties/geometryId", "geometryId is missing: give every feature a unique geometryId string")
	case json.Unmarshal(idRaw, &f.GeometryID) != nil:
		v.add(base+"/properties/geometryId", "geometryId must be a string, like \"001\"")
	case strings.TrimSpace(f.GeometryID) == "":
		v.add(base+"/properties/geometryId", "geometryId is empty: give it a unique value")
	default:
		v.id = f.GeometryID
		if other, dup := seen[f.GeometryID]; dup {
			v.add(base+"/properties/geometryId", "geometryId %q is also used by feature %d: make it unique", f.GeometryID, other)
		} else {
			seen[f.GeometryID] = v.feature
		}
	}
	var geom rawObject
	if err := json.Unmarshal(obj["geometry"], &geom); err != nil || geom == nil {
		v.add(base+"/geometry", "geometry is missing or not an object")
		return Fence{}, false
	}
	var gtype string
	_ = json.Unmarshal(geom["type"], &gtype)
	coords := base + "/geometry/coordinates"
	switch gtype {
	case "Point":
		f.Kind, f.Geometry = KindPoint, v.position(geom["coordinates"], coords)
	case "MultiPoint":
		f.Kind, f.Geometry = KindPoint, orb.MultiPoint(v.positions(geom["coordinates"], coords, 1))
	case "LineString":
		f.Kind, f.Geometry = KindLine, orb.LineString(v.positions(geom["coordinates"], coords, 2))
	case "MultiLineString":
		var lines []json.RawMessage
		if !v.array(geom["coordinates"], coords, &lines, 1) {
			break
		}
		mls := orb.MultiLineString{}
		for i, l := range lines {
			mls = append(mls, v.positions(l, coords+"/"+strconv.Itoa(i), 2))
		}
		f.Kind, f.Geometry = KindLine, mls
	case "Polygon":
		f.Kind, f.Geometry = KindPolygon, v.polygon(geom["coordinates"], coords)
	case "MultiPolygon":
		var polys []json.RawMessage
		if !v.array(geom["coordinates"], coords, &polys, 1) {
			break
		}
		mp := orb.MultiPolygon{}
		for i, p := range polys {
			mp = append(mp, v.polygon(p, coords+"/"+strconv.Itoa(i)))
		}
		f.Kind, f.Geometry = KindPolygon, mp
	default:
		v.add(base+"/geometry/type", "geometry type %q is not supported: use Point, MultiPoint, LineString, MultiLineString, Polygon or MultiPolygon", gtype)
	}
	v.subTypeAndRadius(&f, gtype, props, base+"/properties")
	f.Validity = v.validity(props["validityTime"], base+"/properties/validityTime")
	return f, len(v.problems) == before
}

func (v *validator) subTypeAndRadius(f *Fence, gtype string, props rawObject, base string) {
	if raw, ok := props["subType"]; ok {
		var sub string
		switch {
		case json.Unmarshal(raw, &sub) != nil || sub != "Circle":
			v.add(base+"/subType", "subType must be \"Circle\" (the only one geofences know)")
		case gtype != "Point":
			v.add(base+"/subType", "a Circle is a Point with a radius; this geometry is a %s", gtype)
		default:
			f.Kind = KindCircle
		}
	}
	raw, has := props["radius"]
	if f.Kind == KindPolygon || gtype == "Polygon" || gtype == "MultiPolygon" {
		if has {
			v.add(base+"/radius", "polygons take no radius: remove it")
		}
		return
	}
	if !has {
		if gtype != "" && f.Kind != "" {
			v.add(base+"/radius", "a %s fence needs a radius in metres (1 to 10000)", gtype)
		}
		return
	}
	if err := json.Unmarshal(raw, &f.Radius); err != nil {
		v.add(base+"/radius", "radius must be a number of metres (1 to 10000)")
		return
	}
	if f.Radius < 1 || f.Radius > 10000 || math.IsNaN(f.Radius) {
		v.add(base+"/radius", "radius %g is out of range: use 1 to 10000 metres", f.Radius)
	}
}

func (v *validator) array(raw json.RawMessage, ptr string, out *[]json.RawMessage, min int) bool {
	if err := json.Unmarshal(raw, out); err != nil || raw == nil {
		v.add(ptr, "coordinates must be an array")
		return false
	}
	if len(*out) < min {
		v.add(ptr, "needs at least %d element(s), has %d", min, len(*out))
		return false
	}
	return true
}

func (v *validator) position(raw json.RawMessage, ptr string) orb.Point {
	var nums []json.RawMessage
	if err := json.Unmarshal(raw, &nums); err != nil || len(nums) < 2 || len(nums) > 3 {
		v.add(ptr, "a position is [longitude, latitude] or [longitude, latitude, z]")
		return orb.Point{}
	}
	var p [3]float64
	for i, n := range nums {
		if err := json.Unmarshal(n, &p[i]); err != nil {
			v.add(ptr+"/"+strconv.Itoa(i), "must be a number")
			return orb.Point{}
		}
	}
	if p[0] < -180 || p[0] > 180 {
		v.add(ptr+"/0", "longitude %g is out of range -180 to 180 (positions are [longitude, latitude])", p[0])
	}
	if p[1] < -90 || p[1] > 90 {
		v.add(ptr+"/1", "latitude %g is out of range -90 to 90 (positions are [longitude, latitude])", p[1])
	}
	return orb.Point{p[0], p[1]}
}

func (v *validator) positions(raw json.RawMessage, ptr string, min int) []orb.Point {
	var list []json.RawMessage
	if !v.array(raw, ptr, &list, min) {
		return nil
	}
	pts := make([]orb.Point, len(list))
	for i, p := range list {
		pts[i] = v.position(p, ptr+"/"+strconv.Itoa(i))
	}
	return pts
}

func (v *validator) polygon(raw json.RawMessage, ptr string) orb.Polygon {
	var rings []json.RawMessage
	if !v.array(raw, ptr, &rings, 1) {
		return nil
	}
	poly := orb.Polygon{}
	for i, r := range rings {
		rp := ptr + "/" + strconv.Itoa(i)
		before := len(v.problems)
		pts := v.positions(r, rp, 4)
		if len(pts) >= 4 && pts[0] != pts[len(pts)-1] {
			v.add(rp+"/"+strconv.Itoa(len(pts)-1), "the ring is not closed: its last position must equal its first, %v", []float64{pts[0][0], pts[0][1]})
		}
		if len(v.problems) == before && len(pts) >= 4 {
			if msg := ringShapeProblem(pts); msg != "" {
				v.add(rp, "%s", msg)
			}
		}
		poly = append(poly, orb.Ring(pts))
	}
	return poly
}

var recurrences = map[string]bool{"Daily": true, "Weekly": true, "Monthly": true, "Yearly": true}

func (v *validator) validity(raw json.RawMessage, ptr string) *Validity {
	if raw == nil {
		return nil
	}
	var obj rawObject
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		v.add(ptr, "validityTime must be an object with expiredTime and/or validityPeriod")
		return nil
	}
	val := &Validity{}
	if e, ok := obj["expiredTime"]; ok {
		if t, ok := v.timeField(e, ptr+"/expiredTime"); ok {
			val.Expired = &t
		}
	}
	if p, ok := obj["validityPeriod"]; ok {
		var periods []rawObject
		if err := json.Unmarshal(p, &periods); err != nil {
			v.add(ptr+"/validityPeriod", "validityPeriod must be an array of {startTime, endTime, ...}")
			return val
		}
		for i, po := range periods {
			pp := ptr + "/validityPeriod/" + strconv.Itoa(i)
			var per Period
			start, ok1 := v.timeField(po["startTime"], pp+"/startTime")
			end, ok2 := v.timeField(po["endTime"], pp+"/endTime")
			if ok1 && ok2 && !end.After(start) {
				v.add(pp+"/endTime", "endTime must be after startTime")
			}
			per.Start, per.End = start, end
			if r, ok := po["recurrenceType"]; ok {
				if json.Unmarshal(r, &per.Recurrence) != nil || !recurrences[per.Recurrence] {
					v.add(pp+"/recurrenceType", "recurrenceType must be Daily, Weekly, Monthly or Yearly")
				}
			}
			per.Frequency = 1
			if r, ok := po["recurrenceFrequency"]; ok {
				if json.Unmarshal(r, &per.Frequency) != nil || per.Frequency < 1 {
					v.add(pp+"/recurrenceFrequency", "recurrenceFrequency must be a whole number of at least 1")
				}
			}
			if r, ok := po["businessDayOnly"]; ok && json.Unmarshal(r, &per.BusinessDayOnly) != nil {
				v.add(pp+"/businessDayOnly", "businessDayOnly must be true or false")
			}
			val.Periods = append(val.Periods, per)
		}
	}
	return val
}

func (v *validator) timeField(raw json.RawMessage, ptr string) (time.Time, bool) {
	var s string
	if raw == nil {
		v.add(ptr, "missing: give a time like 2026-01-31T08:00:00Z")
		return time.Time{}, false
	}
	if json.Unmarshal(raw, &s) != nil {
		v.add(ptr, "must be a string like 2026-01-31T08:00:00Z")
		return time.Time{}, false
	}
	t, err := parseTime(s)
	if err != nil {
		v.add(ptr, "%q is not an RFC 3339 time like 2026-01-31T08:00:00Z", s)
		return time.Time{}, false
	}
	return t, true
}

// parseTime reads RFC 3339 and, as the service does in Microsoft's own
// geofence tutorial, a time with no offset (UTC) and 24:00:00 for the end
// of a day.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	day, ok := strings.CutSuffix(s, "T24:00:00")
	if ok {
		s = day + "T00:00:00"
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, err
	}
	if ok {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// jsonError says where JSON broke, as line and column.
func jsonError(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
		col := int(se.Offset) - bytes.LastIndexByte(data[:se.Offset], '\n') - 1
		return fmt.Sprintf("%v (line %d, column %d)", se, line, col)
	}
	return err.Error()
}
