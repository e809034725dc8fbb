package geofence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/paulmach/orb"
)

// The streaming validator reads a geofence file token by token with
// jsontext (github.com/go-json-experiment/json, the proposed
// encoding/json/v2's tokenizer): it streams from an io.Reader, checks the
// JSON grammar as it goes, knows where it is for a syntax error, and
// allocates nothing per token. On a 16 MB collection here,
// encoding/json.Decoder.Token only tokenizes at 33 MB/s (an interface
// and often a string per token); jsontext tokenizes and parses the
// numbers at about 150 MB/s, and over 240 MB/s once numbers are parsed by
// decimal, so the whole validation runs at 110 to 165 MB/s (see
// BenchmarkValidateStream). A scanner of our own could be faster still,
// but would be one more JSON parser to keep correct.
//
// A feature is read whole into a featureDraft, in whatever order its
// members come, and its rules are checked when it ends. Across features
// only the geometryIds seen, the problems (at most maxProblems) and, for
// Parse, the fences are kept.

// stream is one pass over a geofence document.
type stream struct {
	in  *input
	dec *jsontext.Decoder
	// keep is whether the fences are wanted (Parse) or only counted
	// (Validate).
	keep   bool
	fences []Fence
	count  int
	// problems are those reported; found counts every problem,
	// including those past maxProblems.
	problems []Problem
	found    int
	seen     map[string]int
	// scratch is reused for each ring or line as it is read.
	scratch []orb.Point
	// stash holds coordinates met before their geometry's type.
	stash []byte
}

// decode reads one geofence document from r, keeping its fences when
// keep is set.
func decode(r io.Reader, keep bool) (*stream, error) {
	in := &input{r: r}
	// Duplicate names are let through jsontext and reported where the
	// rules look, so that one does not end the reading.
	dec := jsontext.NewDecoder(in, jsontext.AllowDuplicateNames(true))
	s := &stream{in: in, dec: dec, keep: keep, seen: map[string]int{}}
	err := s.document()
	if err == nil {
		err = s.end()
	}
	if err != nil && in.err == nil {
		s.syntaxProblem(err)
	}
	// The service refuses a file over the limit whatever it holds, so
	// the rest is read (and dropped) to find out.
	if in.err == nil {
		_, _ = io.Copy(io.Discard, in)
	}
	switch {
	case errors.Is(in.err, ErrTooLarge):
		return nil, ErrTooLarge
	case in.err != nil:
		return nil, fmt.Errorf("read GeoJSON: %w", in.err)
	case s.found > 0:
		return nil, &InvalidError{Problems: s.problems}
	}
	return s, nil
}

// end checks that nothing but white space follows the document.
func (s *stream) end() error {
	if k := s.dec.PeekKind(); k != 0 {
		return errMore
	}
	if _, err := s.dec.ReadToken(); err != io.EOF {
		return err
	}
	return nil
}

// errMore is JSON after the end of the document.
var errMore = errors.New("more JSON follows")

// syntaxProblem reports err, which ended the reading, as the document's
// first problem: whatever else was found, a file that is not JSON is
// refused for that.
func (s *stream) syntaxProblem(err error) {
	var se *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.EOF):
		s.addSyntax(": the document is empty")
	case errors.Is(err, errMore):
		s.addSyntax(fmt.Sprintf(" after the document, which ends at %s: more JSON follows", s.in.position(s.dec.InputOffset())))
	case errors.As(err, &se):
		where := "at " + s.in.position(se.ByteOffset)
		if se.JSONPointer != "" {
			where += ", in " + string(se.JSONPointer)
		}
		what := "syntax error"
		if se.Err != nil {
			what = se.Err.Error()
		}
		s.addSyntax(" " + where + ": " + what)
	default:
		s.addSyntax(": " + err.Error())
	}
}

// addSyntax reports "not valid JSON" and then what.
func (s *stream) addSyntax(what string) {
	p := Problem{Feature: -1, Message: "not valid JSON" + what}
	s.found++
	if len(s.problems) == maxProblems {
		s.problems = s.problems[:maxProblems-1]
	}
	s.problems = append([]Problem{p}, s.problems...)
}

// add reports a problem, keeping at most maxProblems.
func (s *stream) add(p Problem) {
	s.found++
	if len(s.problems) < maxProblems {
		s.problems = append(s.problems, p)
	}
}

// peek is the kind of the next token, or the error that stops reading.
func (s *stream) peek() (jsontext.Kind, error) {
	k := s.dec.PeekKind()
	if k == 0 {
		_, err := s.dec.ReadToken()
		return 0, err
	}
	return k, nil
}

// name reads the next member name of an object, or its end.
func (s *stream) name() (string, bool, error) {
	tok, err := s.dec.ReadToken()
	if err != nil {
		return "", false, err
	}
	if tok.Kind() == '}' {
		return "", false, nil
	}
	return tok.String(), true, nil
}

// take reads the token that peek said was next.
func (s *stream) take() error {
	_, err := s.dec.ReadToken()
	return err
}

// scalar is a member read whole: its kind (0 when absent) and, for a
// string its value, for a number its text. Objects and arrays are
// skipped; their kind is enough to say they are not what was wanted.
type scalar struct {
	kind jsontext.Kind
	text string
}

func (s *stream) scalar() (scalar, error) {
	k, err := s.peek()
	if err != nil {
		return scalar{}, err
	}
	if k == '{' || k == '[' {
		return scalar{kind: k}, s.dec.SkipValue()
	}
	tok, err := s.dec.ReadToken()
	if err != nil {
		return scalar{}, err
	}
	return scalar{kind: k, text: tok.String()}, nil
}

// twice is a member that came more than once in one object: which value
// counts is not defined, so it is a problem, and the first one is kept.
func twice(ptr, name string) Problem {
	return Problem{Pointer: ptr + "/" + escapePointer(name), Message: fmt.Sprintf("%q is given more than once in this object: keep one", name)}
}

// peekObject is the kind of the next value, which is skipped unless it
// is an object.
func (s *stream) peekObject() (jsontext.Kind, error) {
	k, err := s.peek()
	if err == nil && k != '{' {
		err = s.dec.SkipValue()
	}
	return k, err
}

// object reads the object that peek saw next, at ptr. For a member named
// in known, read reads the value; other members are skipped, and so is a
// known one given again, which is reported in twices.
func (s *stream) object(ptr string, twices *[]Problem, known []string, read func(name string) error) error {
	if err := s.take(); err != nil {
		return err
	}
	var given uint
	for {
		name, ok, err := s.name()
		if err != nil || !ok {
			return err
		}
		i := slices.Index(known, name)
		switch {
		case i < 0:
			err = s.dec.SkipValue()
		case given&(1<<i) != 0:
			*twices = append(*twices, twice(ptr, name))
			err = s.dec.SkipValue()
		default:
			given |= 1 << i
			err = read(name)
		}
		if err != nil {
			return err
		}
	}
}

// document reads the top-level object: a FeatureCollection, whose
// features are checked one by one as they come, or a single Feature.
func (s *stream) document() error {
	k, err := s.peekObject()
	switch {
	case err != nil:
		return err
	case k == 'n': // read as an object with no type, as before
		s.add(Problem{Feature: -1, Pointer: "/type", Message: `type is "": use "FeatureCollection" or "Feature"`})
		return nil
	case k != '{':
		s.add(Problem{Feature: -1, Message: fmt.Sprintf("the document is %s: a geofence file is a JSON object, a FeatureCollection or a Feature", kindName(k))})
		return nil
	}
	var (
		typ      scalar
		features jsontext.Kind // 0 when absent
		n        int           // features read
		top      = &featureDraft{kind: '{'}
		twices   []Problem
	)
	// Until the type is known, the members of both kinds of document
	// are read.
	err = s.object("", &twices, []string{"type", "features", "properties", "geometry"}, func(name string) error {
		var err error
		switch t := stringOf(typ); {
		case name == "type":
			typ, err = s.scalar()
			top.typ = typ
		case name == "features" && (typ.kind == 0 || t == "FeatureCollection"):
			if features, err = s.peek(); err == nil && features == '[' {
				n, err = s.features()
			} else if err == nil {
				err = s.dec.SkipValue()
			}
		case name != "features" && (typ.kind == 0 || t == "Feature"):
			err = s.featureMember(top, name, "")
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
	if err != nil {
		return err
	}
	t := stringOf(typ)
	if t != "FeatureCollection" {
		// Features read before the type said this is no collection
		// are not part of the answer.
		s.problems, s.found, s.fences, s.count = nil, 0, nil, 0
		clear(s.seen)
	}
	for _, p := range twices {
		name := p.Pointer[1:]
		if name == "type" || (name == "features" && t == "FeatureCollection") || (name != "features" && t == "Feature") {
			p.Feature = -1
			s.add(p)
		}
	}
	switch {
	case t == "FeatureCollection" && features != '[' && features != 'n':
		s.add(Problem{Feature: -1, Pointer: "/features", Message: `a FeatureCollection needs a "features" array`})
	case t == "FeatureCollection" && n == 0:
		s.add(Problem{Feature: -1, Pointer: "/features", Message: "the collection has no features: add at least one"})
	case t == "Feature":
		s.check(top, 0, "")
	case t != "FeatureCollection":
		s.add(Problem{Feature: -1, Pointer: "/type", Message: fmt.Sprintf("type is %q: use \"FeatureCollection\" or \"Feature\"", t)})
	}
	return nil
}

// features reads the features array, checking each feature as it ends.
func (s *stream) features() (int, error) {
	if err := s.take(); err != nil {
		return 0, err
	}
	for i := 0; ; i++ {
		k, err := s.peek()
		if err != nil {
			return i, err
		}
		if k == ']' {
			return i, s.take()
		}
		base := "/features/" + strconv.Itoa(i)
		d := &featureDraft{kind: k}
		if k != '{' {
			err = s.dec.SkipValue()
		} else {
			err = s.object(base, &d.twice, []string{"type", "properties", "geometry"}, func(name string) error {
				if name == "type" {
					var err error
					d.typ, err = s.scalar()
					return err
				}
				return s.featureMember(d, name, base)
			})
		}
		if err != nil {
			return i, err
		}
		s.check(d, i, base)
	}
}

// featureMember reads a feature's properties or geometry into d.
func (s *stream) featureMember(d *featureDraft, name, base string) error {
	if name == "properties" {
		return s.properties(&d.props, base+"/properties", &d.twice)
	}
	return s.geometry(&d.geom, base+"/geometry", &d.twice)
}

// properties reads the members the rules look at.
func (s *stream) properties(p *propertiesDraft, ptr string, twices *[]Problem) error {
	var err error
	if p.kind, err = s.peekObject(); err != nil || p.kind != '{' {
		return err
	}
	return s.object(ptr, twices, []string{"geometryId", "subType", "radius", "validityTime"}, func(name string) error {
		var err error
		switch name {
		case "geometryId":
			p.geometryID, err = s.scalar()
		case "subType":
			p.subType, err = s.scalar()
		case "radius":
			p.radius, err = s.scalar()
		default:
			err = s.validity(&p.validity, ptr+"/validityTime", twices)
		}
		return err
	})
}

func (s *stream) validity(v *validityDraft, ptr string, twices *[]Problem) error {
	var err error
	if v.kind, err = s.peekObject(); err != nil || v.kind != '{' {
		return err
	}
	return s.object(ptr, twices, []string{"expiredTime", "validityPeriod"}, func(name string) error {
		if name == "expiredTime" {
			var err error
			v.expired, err = s.scalar()
			return err
		}
		return s.periods(v, ptr+"/validityPeriod", twices)
	})
}

func (s *stream) periods(v *validityDraft, ptr string, twices *[]Problem) error {
	var err error
	if v.periodsKind, err = s.peek(); err != nil || v.periodsKind != '[' {
		if err == nil {
			err = s.dec.SkipValue()
		}
		return err
	}
	if err := s.take(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		k, err := s.peek()
		if err != nil {
			return err
		}
		var p periodDraft
		switch k {
		case ']':
			return s.take()
		case '{':
			err = s.period(&p, ptr+"/"+strconv.Itoa(i), twices)
		case 'n':
			err = s.dec.SkipValue()
		default:
			v.periodNotObject = true
			err = s.dec.SkipValue()
		}
		if err != nil {
			return err
		}
		v.periods = append(v.periods, p)
	}
}

func (s *stream) period(p *periodDraft, ptr string, twices *[]Problem) error {
	members := []string{"startTime", "endTime", "recurrenceType", "recurrenceFrequency", "businessDayOnly"}
	fields := []*scalar{&p.start, &p.end, &p.recurrence, &p.frequency, &p.businessDay}
	return s.object(ptr, twices, members, func(name string) error {
		var err error
		*fields[slices.Index(members, name)], err = s.scalar()
		return err
	})
}

// geometry reads a geometry object. Its coordinates are checked as they
// are read when its type came first, as it nearly always does;
// otherwise they are kept as text until the type is known.
func (s *stream) geometry(g *geometryDraft, ptr string, twices *[]Problem) error {
	var err error
	if g.kind, err = s.peekObject(); err != nil || g.kind != '{' {
		return err
	}
	typed, stashed := false, false
	err = s.object(ptr, twices, []string{"type", "coordinates"}, func(name string) error {
		var err error
		switch {
		case name == "type":
			typed = true
			g.typ, err = s.scalar()
		case typed:
			g.coordinates = true
			err = s.coordinates(s.dec, g, ptr+"/coordinates")
		default:
			g.coordinates, stashed = true, true
			var v jsontext.Value
			if v, err = s.dec.ReadValue(); err == nil {
				s.stash = append(s.stash[:0], v...)
			}
		}
		return err
	})
	if err != nil || !stashed {
		return err
	}
	return s.coordinates(jsontext.NewDecoder(bytes.NewReader(s.stash)), g, ptr+"/coordinates")
}

// kindName says what a JSON value of kind k is, for messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "an object"
}

// escapePointer escapes a member name for a JSON pointer (RFC 6901).
func escapePointer(name string) string {
	return string(jsontext.Pointer("").AppendToken(name))[1:]
}
