package geofence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
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

// maxFrequency bounds recurrenceFrequency: every 10,000 days is already
// 27 years, and the bound keeps the arithmetic of periods from overflowing.
const maxFrequency = 10000

// maxProblems bounds the report for hopeless inputs.
const maxProblems = 1000

// Parse reads a geofence Feature or FeatureCollection, reading at most
// MaxUploadSize bytes. It returns the fences, or an *InvalidError listing
// every problem. It reads as Validate does, and keeps the fences.
func Parse(r io.Reader) ([]Fence, error) {
	s, err := decode(r, true)
	if err != nil {
		return nil, err
	}
	return s.fences, nil
}

// ParseBytes is Parse for data already in memory.
func ParseBytes(data []byte) ([]Fence, error) {
	return Parse(bytes.NewReader(data))
}

// Validate checks a geofence Feature or FeatureCollection as it streams
// from r, and returns how many fences it holds. It keeps no fences: its
// memory is bounded by the largest feature (and the longest string or run
// of white space, each read whole), not by the size of the input. Like
// Parse, it reads at most MaxUploadSize bytes, and returns an
// *InvalidError listing every problem, ErrTooLarge, or a read error.
func Validate(r io.Reader) (int, error) {
	s, err := decode(r, false)
	if err != nil {
		return 0, err
	}
	return s.count, nil
}

// featureDraft is what one feature says, read in whatever order its
// members come, so that its rules can be checked when it ends.
type featureDraft struct {
	kind  jsontext.Kind // of the feature itself
	typ   scalar
	props propertiesDraft
	geom  geometryDraft
	// twice are members given more than once.
	twice []Problem
}

type propertiesDraft struct {
	kind                        jsontext.Kind // 0 when absent
	geometryID, subType, radius scalar
	validity                    validityDraft
}

type validityDraft struct {
	kind        jsontext.Kind // 0 when absent
	expired     scalar
	periodsKind jsontext.Kind // 0 when absent
	periods     []periodDraft
	// periodNotObject is whether an element of validityPeriod is neither
	// an object nor null.
	periodNotObject bool
}

type periodDraft struct {
	start, end, recurrence, frequency, businessDay scalar
}

type geometryDraft struct {
	kind        jsontext.Kind // 0 when absent
	typ         scalar
	coordinates bool // whether there were any
	geometry    orb.Geometry
	// problems are those found in the coordinates, in order; found
	// counts them all.
	problems []Problem
	found    int
}

// featureCheck reports the problems of one feature, in a fixed order
// whatever the order of its members.
type featureCheck struct {
	s       *stream
	feature int
	id      string
	found   int
}

func (c *featureCheck) add(ptr, format string, args ...any) {
	c.found++
	c.s.add(Problem{Feature: c.feature, GeometryID: c.id, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
}

// check checks a feature read whole: feature i, at pointer base.
func (s *stream) check(d *featureDraft, i int, base string) {
	s.count++
	c := &featureCheck{s: s, feature: i}
	for _, p := range d.twice {
		c.add(p.Pointer, "%s", p.Message)
	}
	if d.kind != '{' && d.kind != 'n' { // null reads as an empty object
		c.add(base, "a feature must be a JSON object")
		return
	}
	if typ := stringOf(d.typ); typ != "Feature" {
		c.add(base+"/type", "type is %q: use \"Feature\"", typ)
	}
	props := &d.props
	if props.kind != '{' {
		c.add(base+"/properties", "properties must be an object holding at least a geometryId")
	}
	f := Fence{}
	// geometryId: present, a non-empty string, unique.
	idPtr := base + "/properties/geometryId"
	switch id := props.geometryID; {
	case id.kind == 0:
		c.add(idPtr, "geometryId is missing: give every feature a unique geometryId string")
	case id.kind != '"' && id.kind != 'n':
		c.add(idPtr, "geometryId must be a string, like \"001\"")
	case strings.TrimSpace(stringOf(id)) == "":
		c.add(idPtr, "geometryId is empty: give it a unique value")
	default:
		f.GeometryID, c.id = id.text, id.text
		if other, dup := s.seen[id.text]; dup {
			c.add(idPtr, "geometryId %q is also used by feature %d: make it unique", id.text, other)
		} else {
			s.seen[id.text] = i
		}
	}
	g := &d.geom
	if g.kind != '{' {
		c.add(base+"/geometry", "geometry is missing or not an object")
		return
	}
	gtype := geometryType(g)
	coords := base + "/geometry/coordinates"
	switch gtype {
	case "Point", "MultiPoint":
		f.Kind = KindPoint
	case "LineString", "MultiLineString":
		f.Kind = KindLine
	case "Polygon", "MultiPolygon":
		f.Kind = KindPolygon
	default:
		c.add(base+"/geometry/type", "geometry type %q is not supported: use Point, MultiPoint, LineString, MultiLineString, Polygon or MultiPolygon", gtype)
	}
	switch {
	case f.Kind == "":
	case !g.coordinates && gtype == "Point":
		c.add(coords, "a position is [longitude, latitude] or [longitude, latitude, z]")
	case !g.coordinates:
		c.add(coords, "coordinates must be an array")
	default:
		for _, p := range g.problems {
			c.add(p.Pointer, "%s", p.Message)
		}
		c.found += g.found - len(g.problems)
		s.found += g.found - len(g.problems)
	}
	f.Geometry = g.geometry
	c.subTypeAndRadius(&f, gtype, props, base+"/properties")
	f.Validity = c.validity(&props.validity, base+"/properties/validityTime")
	if c.found == 0 && s.keep {
		s.fences = append(s.fences, f)
	}
}

// stringOf is what encoding/json would read from v into a string, or ""
// when v is not one.
func stringOf(v scalar) string {
	if v.kind != '"' {
		return ""
	}
	return v.text
}

// numberOf reads v as a float64: null reads as 0.
func numberOf(v scalar) (float64, bool) {
	switch v.kind {
	case 'n':
		return 0, true
	case '0':
		f, err := strconv.ParseFloat(v.text, 64)
		return f, err == nil
	}
	return 0, false
}

func (c *featureCheck) subTypeAndRadius(f *Fence, gtype string, props *propertiesDraft, base string) {
	if sub := props.subType; sub.kind != 0 {
		switch {
		case stringOf(sub) != "Circle":
			c.add(base+"/subType", "subType must be \"Circle\" (the only one geofences know)")
		case gtype != "Point":
			c.add(base+"/subType", "a Circle is a Point with a radius; this geometry is a %s", gtype)
		default:
			f.Kind = KindCircle
		}
	}
	raw, has := props.radius, props.radius.kind != 0
	if f.Kind == KindPolygon {
		if has {
			c.add(base+"/radius", "polygons take no radius: remove it")
		}
		return
	}
	if !has {
		if f.Kind != "" {
			c.add(base+"/radius", "a %s fence needs a radius in metres (1 to 10000)", gtype)
		}
		return
	}
	r, ok := numberOf(raw)
	if !ok {
		c.add(base+"/radius", "radius must be a number of metres (1 to 10000)")
		return
	}
	f.Radius = r
	if r < 1 || r > 10000 {
		c.add(base+"/radius", "radius %g is out of range: use 1 to 10000 metres", r)
	}
}

var recurrences = map[string]bool{"Daily": true, "Weekly": true, "Monthly": true, "Yearly": true}

func (c *featureCheck) validity(v *validityDraft, ptr string) *Validity {
	if v.kind == 0 {
		return nil
	}
	if v.kind != '{' {
		c.add(ptr, "validityTime must be an object with expiredTime and/or validityPeriod")
		return nil
	}
	val := &Validity{}
	if v.expired.kind != 0 {
		if t, ok := c.timeField(v.expired, ptr+"/expiredTime"); ok {
			val.Expired = &t
		}
	}
	switch v.periodsKind {
	case 0, 'n':
		return val
	case '[':
		if !v.periodNotObject {
			break
		}
		fallthrough
	default:
		c.add(ptr+"/validityPeriod", "validityPeriod must be an array of {startTime, endTime, ...}")
		return val
	}
	for i, po := range v.periods {
		pp := ptr + "/validityPeriod/" + strconv.Itoa(i)
		var per Period
		start, ok1 := c.timeField(po.start, pp+"/startTime")
		end, ok2 := c.timeField(po.end, pp+"/endTime")
		if ok1 && ok2 && !end.After(start) {
			c.add(pp+"/endTime", "endTime must be after startTime")
		}
		per.Start, per.End = start, end
		if r := po.recurrence; r.kind != 0 {
			per.Recurrence = stringOf(r)
			if (r.kind != '"' && r.kind != 'n') || !recurrences[per.Recurrence] {
				c.add(pp+"/recurrenceType", "recurrenceType must be Daily, Weekly, Monthly or Yearly")
			}
		}
		per.Frequency = 1
		switch r := po.frequency; r.kind {
		case 0, 'n':
		case '0':
			n, err := strconv.Atoi(r.text)
			if err == nil {
				per.Frequency = n
			}
			if err != nil || n < 1 || n > maxFrequency {
				c.add(pp+"/recurrenceFrequency", "recurrenceFrequency must be a whole number from 1 to %d", maxFrequency)
			}
		default:
			c.add(pp+"/recurrenceFrequency", "recurrenceFrequency must be a whole number from 1 to %d", maxFrequency)
		}
		switch b := po.businessDay; b.kind {
		case 0, 'n', 'f':
		case 't':
			per.BusinessDayOnly = true
		default:
			c.add(pp+"/businessDayOnly", "businessDayOnly must be true or false")
		}
		val.Periods = append(val.Periods, per)
	}
	return val
}

func (c *featureCheck) timeField(v scalar, ptr string) (time.Time, bool) {
	switch v.kind {
	case 0:
		c.add(ptr, "missing: give a time like 2026-01-31T08:00:00Z")
		return time.Time{}, false
	case '"', 'n':
	default:
		c.add(ptr, "must be a string like 2026-01-31T08:00:00Z")
		return time.Time{}, false
	}
	s := stringOf(v)
	t, err := parseTime(s)
	if err != nil {
		c.add(ptr, "%q is not an RFC 3339 time like 2026-01-31T08:00:00Z", s)
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
