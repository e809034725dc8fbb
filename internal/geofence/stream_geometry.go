package geofence

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/paulmach/orb"
)

// coordReader reads one geometry's coordinates, the bulk of any geofence
// file, so it is the hot path: pointers are only built for a problem.
type coordReader struct {
	dec *jsontext.Decoder
	s   *stream
	g   *geometryDraft
}

// coordinates reads a geometry's coordinates with dec (the document's
// decoder, or one over the stash), shaped as g's type says.
func (s *stream) coordinates(dec *jsontext.Decoder, g *geometryDraft, ptr string) error {
	c := &coordReader{dec: dec, s: s, g: g}
	switch geometryType(g) {
	case "Point":
		p, err := c.position(ptr, -1)
		g.geometry = p
		return err
	case "MultiPoint":
		pts, _, err := c.positions(ptr, 1)
		g.geometry = orb.MultiPoint(c.kept(pts))
		return err
	case "LineString":
		pts, _, err := c.positions(ptr, 2)
		g.geometry = orb.LineString(c.kept(pts))
		return err
	case "MultiLineString":
		var mls orb.MultiLineString
		err := c.array(ptr, 1, func(ptr string) error {
			pts, _, err := c.positions(ptr, 2)
			if s.keep {
				mls = append(mls, c.kept(pts))
			}
			return err
		})
		g.geometry = mls
		return err
	case "Polygon":
		poly, err := c.polygon(ptr)
		g.geometry = poly
		return err
	case "MultiPolygon":
		var mp orb.MultiPolygon
		err := c.array(ptr, 1, func(ptr string) error {
			poly, err := c.polygon(ptr)
			if s.keep {
				mp = append(mp, poly)
			}
			return err
		})
		g.geometry = mp
		return err
	}
	return dec.SkipValue() // the type's problem is reported when the feature ends
}

// geometryType is g's type, or "" when it has none that is a string.
func geometryType(g *geometryDraft) string {
	if g.typ.kind != '"' {
		return ""
	}
	return g.typ.text
}

// kept copies points read into the scratch buffer when the fences are
// kept.
func (c *coordReader) kept(pts []orb.Point) []orb.Point {
	if !c.s.keep || pts == nil {
		return nil
	}
	return slices.Clone(pts)
}

func (c *coordReader) add(ptr, format string, args ...any) {
	c.g.found++
	if len(c.g.problems) < maxProblems {
		c.g.problems = append(c.g.problems, Problem{Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
}

// peek is the kind of the next token, or the error that stops reading.
func (c *coordReader) peek() (jsontext.Kind, error) {
	k := c.dec.PeekKind()
	if k == 0 {
		_, err := c.dec.ReadToken()
		return 0, err
	}
	return k, nil
}

// array reads an array of at least `least` coordinate arrays, calling
// each with the pointer of each element.
func (c *coordReader) array(ptr string, least int, each func(ptr string) error) error {
	k, err := c.peek()
	if err != nil {
		return err
	}
	if ok, err := c.opened(k, ptr, least); !ok || err != nil {
		return err
	}
	n := 0
	for ; ; n++ {
		k, err := c.peek()
		if err != nil {
			return err
		}
		if k == ']' {
			break
		}
		if err := each(ptr + "/" + strconv.Itoa(n)); err != nil {
			return err
		}
	}
	if _, err := c.dec.ReadToken(); err != nil {
		return err
	}
	if n < least {
		c.add(ptr, "needs at least %d element(s), has %d", least, n)
	}
	return nil
}

// opened reads the '[' of an array of kind k, or skips a value that is
// not one and says so; null reads as an empty array.
func (c *coordReader) opened(k jsontext.Kind, ptr string, least int) (bool, error) {
	if k == '[' {
		_, err := c.dec.ReadToken()
		return err == nil, err
	}
	if err := c.dec.SkipValue(); err != nil {
		return false, err
	}
	if k == 'n' {
		c.add(ptr, "needs at least %d element(s), has 0", least)
	} else {
		c.add(ptr, "coordinates must be an array")
	}
	return false, nil
}

// positions reads a list of at least `least` positions into the scratch
// buffer. When there are fewer, that is the one problem: the positions
// themselves are not reported.
func (c *coordReader) positions(ptr string, least int) ([]orb.Point, bool, error) {
	k, err := c.peek()
	if err != nil {
		return nil, false, err
	}
	if ok, err := c.opened(k, ptr, least); !ok || err != nil {
		return nil, false, err
	}
	mark, found := len(c.g.problems), c.g.found
	pts := c.s.scratch[:0]
	for i := 0; ; i++ {
		k := c.dec.PeekKind()
		if k == ']' {
			break
		}
		p, err := c.position(ptr, i)
		if err != nil {
			return nil, false, err
		}
		pts = append(pts, p)
	}
	c.s.scratch = pts
	if _, err := c.dec.ReadToken(); err != nil {
		return nil, false, err
	}
	if len(pts) < least {
		c.g.problems, c.g.found = c.g.problems[:mark], found
		c.add(ptr, "needs at least %d element(s), has %d", least, len(pts))
		return nil, false, nil
	}
	return pts, true, nil
}

// elementPointer is the pointer of element i of the array at ptr, or ptr
// itself for i < 0.
func elementPointer(ptr string, i int) string {
	if i < 0 {
		return ptr
	}
	return ptr + "/" + strconv.Itoa(i)
}

// position reads [longitude, latitude] or [longitude, latitude, z]
// (element i of the array at ptr). A position that is not one reads as
// the zero point; one out of range is reported and kept.
func (c *coordReader) position(ptr string, i int) (orb.Point, error) {
	dec := c.dec
	k, err := c.peek()
	if err != nil {
		return orb.Point{}, err
	}
	if k != '[' {
		if err := dec.SkipValue(); err != nil {
			return orb.Point{}, err
		}
		c.add(elementPointer(ptr, i), "a position is [longitude, latitude] or [longitude, latitude, z]")
		return orb.Point{}, nil
	}
	if _, err := dec.ReadToken(); err != nil {
		return orb.Point{}, err
	}
	var p [3]float64
	n, notNumber := 0, -1
	for ; ; n++ {
		k := dec.PeekKind()
		if k == ']' {
			break
		}
		if k == '0' {
			tok, err := dec.ReadToken()
			if err != nil {
				return orb.Point{}, err
			}
			v, ok := number(tok)
			if n < len(p) {
				p[n] = v
			}
			if !ok && notNumber < 0 {
				notNumber = n
			}
			continue
		}
		if err := dec.SkipValue(); err != nil { // also the error of k == 0
			return orb.Point{}, err
		}
		if notNumber < 0 {
			notNumber = n
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return orb.Point{}, err
	}
	switch {
	case n < 2 || n > 3:
		c.add(elementPointer(ptr, i), "a position is [longitude, latitude] or [longitude, latitude, z]")
		return orb.Point{}, nil
	case notNumber >= 0:
		c.add(elementPointer(ptr, i)+"/"+strconv.Itoa(notNumber), "must be a number")
		return orb.Point{}, nil
	}
	if p[0] < -180 || p[0] > 180 {
		c.add(elementPointer(ptr, i)+"/0", "longitude %g is out of range -180 to 180 (positions are [longitude, latitude])", p[0])
	}
	if p[1] < -90 || p[1] > 90 {
		c.add(elementPointer(ptr, i)+"/1", "latitude %g is out of range -90 to 90 (positions are [longitude, latitude])", p[1])
	}
	return orb.Point{p[0], p[1]}, nil
}

// polygon reads a polygon's rings: each at least 4 positions, closed, and
// a shape that bounds an area.
func (c *coordReader) polygon(ptr string) (orb.Polygon, error) {
	var poly orb.Polygon
	if c.s.keep {
		poly = orb.Polygon{}
	}
	err := c.array(ptr, 1, func(rp string) error {
		before := c.g.found
		pts, ok, err := c.positions(rp, 4)
		if err != nil {
			return err
		}
		if ok && pts[0] != pts[len(pts)-1] {
			c.add(rp+"/"+strconv.Itoa(len(pts)-1), "the ring is not closed: its last position must equal its first, %v", []float64{pts[0][0], pts[0][1]})
		}
		if ok && c.g.found == before {
			if msg := ringShapeProblem(pts); msg != "" {
				c.add(rp, "%s", msg)
			}
		}
		if c.s.keep {
			poly = append(poly, orb.Ring(c.kept(pts)))
		}
		return nil
	})
	return poly, err
}

// number reads a JSON number token.
func number(tok jsontext.Token) (float64, bool) {
	s := tok.String()
	if f, ok := decimal(s); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// decimal reads a plain decimal (no exponent) of at most 15 digits, as
// coordinates are written, or says it cannot. Such a number's digits and
// its power of ten are both exact float64s, so one division rounds
// correctly and the result is strconv.ParseFloat's. With ParseFloat,
// numbers were half the time spent reading coordinates; with decimal,
// reading tokens and numbers went from 160 to 245 MB/s.
func decimal(s string) (float64, bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		neg, i = true, 1
	}
	var m uint64
	digits, frac := 0, -1
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}
