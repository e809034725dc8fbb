package geofence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// validateBoth runs Validate and Parse on data, checks that they agree,
// and returns Validate's answer.
func validateBoth(t *testing.T, data []byte) (int, error) {
	t.Helper()
	n, err := Validate(bytes.NewReader(data))
	fences, perr := Parse(bytes.NewReader(data))
	var inv, pinv *InvalidError
	switch {
	case errors.As(err, &inv) && errors.As(perr, &pinv):
		if !reflect.DeepEqual(inv.Problems, pinv.Problems) {
			t.Fatalf("Validate and Parse disagree:\n%v\n%v", inv.Problems, pinv.Problems)
		}
	case err == nil && perr == nil:
		if n != len(fences) {
			t.Fatalf("Validate counts %d fences, Parse returns %d", n, len(fences))
		}
	case !errors.Is(err, perr) && err.Error() != perr.Error():
		t.Fatalf("Validate: %v; Parse: %v", err, perr)
	}
	return n, err
}

func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("err = %v, want problems", err)
	}
	return inv.Problems
}

// matchPlanted checks that got are exactly the problems planted, in
// order.
func matchPlanted(t *testing.T, got []Problem, want []planted) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d problems, want the %d planted", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.Feature != w.feature || g.Pointer != w.pointer || !strings.Contains(g.Message, w.text) {
			t.Fatalf("problem %d is %s; want feature %d at %s saying %q", i, g, w.feature, w.pointer, w.text)
		}
		if g.GeometryID == "" {
			t.Errorf("problem %d does not name its geometryId: %s", i, g)
		}
	}
}

func TestValidateReportsEveryPlantedProblem(t *testing.T) {
	data, want := collection(4<<20, 13, false)
	if len(want) < 100 {
		t.Fatalf("only %d problems planted", len(want))
	}
	_, err := validateBoth(t, data)
	matchPlanted(t, problemsOf(t, err), want)
}

func TestValidateCountsFences(t *testing.T) {
	data, _ := collection(2<<20, 0, false)
	features := bytes.Count(data, []byte(`"type":"Feature"`))
	n, err := validateBoth(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if n != features {
		t.Errorf("%d fences, want %d", n, features)
	}
	fences, _ := Parse(bytes.NewReader(data))
	kinds := map[Kind]int{}
	for _, f := range fences {
		kinds[f.Kind]++
	}
	if want := features / 10; kinds[KindCircle] < want || kinds[KindLine] < want || kinds[KindPolygon] < 7*want {
		t.Errorf("fences by kind %v, of %d features", kinds, features)
	}
}

// Past maxProblems, problems are counted out; those reported are the
// first ones.
func TestValidateCapsProblems(t *testing.T) {
	data, want := collection(6<<20, 2, false)
	if len(want) <= maxProblems {
		t.Fatalf("only %d problems planted", len(want))
	}
	_, err := validateBoth(t, data)
	matchPlanted(t, problemsOf(t, err), want[:maxProblems])
}

// A file cut short is not valid JSON, said first, with where; the
// problems in the features before the cut are still reported.
func TestValidateTruncated(t *testing.T) {
	t.Run("at every byte", func(t *testing.T) {
		for cut := range len(guideSample) {
			_, err := validateBoth(t, []byte(guideSample[:cut]))
			got := problemsOf(t, err)
			first := got[0]
			if first.Feature != -1 || first.Pointer != "" || !strings.HasPrefix(first.Message, "not valid JSON") {
				t.Fatalf("cut at %d: first problem %s, want not valid JSON", cut, first)
			}
			if cut > 0 && !strings.Contains(first.Message, "line ") {
				t.Fatalf("cut at %d: %q does not say where", cut, first.Message)
			}
		}
	})
	t.Run("after 300 features", func(t *testing.T) {
		data, want := collection(1<<20, 10, false)
		// Features are written one a line, so feature 300 starts after
		// the 300th newline.
		cut := 0
		for range 300 {
			cut += bytes.IndexByte(data[cut:], '\n') + 1
		}
		_, err := validateBoth(t, data[:cut])
		got := problemsOf(t, err)
		if !strings.Contains(got[0].Message, "unexpected EOF") || !strings.Contains(got[0].Message, "line 301, column 1") {
			t.Errorf("first problem %s, want an unexpected EOF on line 301", got[0])
		}
		var before []planted
		for _, w := range want {
			if w.feature < 300 {
				before = append(before, w)
			}
		}
		matchPlanted(t, got[1:], before)
	})
}

// Every level of the document is checked for the type of what is there,
// with a pointer to it.
func TestValidateWrongTypes(t *testing.T) {
	const point = `{"type":"Point","coordinates":[1,2]}`
	period := func(member string) string {
		return feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":[{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z",`+member+`}]}}`)
	}
	collectionOf := func(feature string) string {
		return `{"type":"FeatureCollection","features":[` + feature + `]}`
	}
	const f0 = "/features/0"
	tests := []struct {
		name, doc, wantPointer, wantText string
	}{
		{"document an array", `[]`, "", "the document is an array"},
		{"document a string", `"fences"`, "", "the document is a string"},
		{"document a number", `5`, "", "the document is a number"},
		{"document null", `null`, "/type", `type is ""`},
		{"type a number", `{"type":5,"features":[]}`, "/type", `type is ""`},
		{"features an object", `{"type":"FeatureCollection","features":{}}`, "/features", `needs a "features" array`},
		{"features a string", `{"type":"FeatureCollection","features":"all"}`, "/features", `needs a "features" array`},
		{"feature a number", collectionOf(`5`), f0, "must be a JSON object"},
		{"feature an array", collectionOf(`[]`), f0, "must be a JSON object"},
		{"feature type an array", collectionOf(`{"type":[],"properties":{"geometryId":"a"},"geometry":` + square + `}`), f0 + "/type", `type is ""`},
		{"properties an array", feature(square, `[]`), f0 + "/properties", "must be an object"},
		{"properties a string", feature(square, `"a"`), f0 + "/properties", "must be an object"},
		{"geometryId an object", feature(square, `{"geometryId":{}}`), f0 + "/properties/geometryId", "must be a string"},
		{"geometryId a boolean", feature(square, `{"geometryId":true}`), f0 + "/properties/geometryId", "must be a string"},
		{"geometry an array", feature(`[]`, `{"geometryId":"a"}`), f0 + "/geometry", "not an object"},
		{"geometry a string", feature(`"Point"`, `{"geometryId":"a"}`), f0 + "/geometry", "not an object"},
		{"geometry type a number", feature(`{"type":5,"coordinates":[1,2]}`, `{"geometryId":"a"}`), f0 + "/geometry/type", `geometry type "" is not supported`},
		{"coordinates a string", feature(`{"type":"Polygon","coordinates":"square"}`, `{"geometryId":"a"}`), f0 + "/geometry/coordinates", "must be an array"},
		{"coordinates missing", feature(`{"type":"Polygon"}`, `{"geometryId":"a"}`), f0 + "/geometry/coordinates", "must be an array"},
		{"ring a number", feature(`{"type":"Polygon","coordinates":[5]}`, `{"geometryId":"a"}`), f0 + "/geometry/coordinates/0", "must be an array"},
		{"position a string", feature(`{"type":"LineString","coordinates":[[0,0],"1,1"]}`, `{"geometryId":"a","radius":5}`), f0 + "/geometry/coordinates/1", "a position is"},
		{"position an object", feature(`{"type":"Point","coordinates":{"lon":1,"lat":2}}`, `{"geometryId":"a","radius":5}`), f0 + "/geometry/coordinates", "a position is"},
		{"longitude a string", feature(`{"type":"Polygon","coordinates":[[[0,0],["1",0],[1,1],[0,0]]]}`, `{"geometryId":"a"}`), f0 + "/geometry/coordinates/0/1/0", "must be a number"},
		{"latitude null", feature(`{"type":"Point","coordinates":[1,null]}`, `{"geometryId":"a","radius":5}`), f0 + "/geometry/coordinates/1", "must be a number"},
		{"z an array", feature(`{"type":"Point","coordinates":[1,2,[3]]}`, `{"geometryId":"a","radius":5}`), f0 + "/geometry/coordinates/2", "must be a number"},
		{"latitude too large a number", feature(`{"type":"Point","coordinates":[1,1e400]}`, `{"geometryId":"a","radius":5}`), f0 + "/geometry/coordinates/1", "must be a number"},
		{"polygon of a MultiPolygon a string", feature(`{"type":"MultiPolygon","coordinates":["p"]}`, `{"geometryId":"a"}`), f0 + "/geometry/coordinates/0", "must be an array"},
		{"line of a MultiLineString a number", feature(`{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],5]}`, `{"geometryId":"a","radius":5}`), f0 + "/geometry/coordinates/1", "must be an array"},
		{"radius a string", feature(point, `{"geometryId":"a","radius":"5"}`), f0 + "/properties/radius", "must be a number"},
		{"radius a boolean", feature(point, `{"geometryId":"a","radius":true}`), f0 + "/properties/radius", "must be a number"},
		{"subType a number", feature(point, `{"geometryId":"a","radius":5,"subType":1}`), f0 + "/properties/subType", `must be "Circle"`},
		{"validityTime an array", feature(square, `{"geometryId":"a","validityTime":[]}`), f0 + "/properties/validityTime", "must be an object"},
		{"expiredTime a number", feature(square, `{"geometryId":"a","validityTime":{"expiredTime":20260101}}`), f0 + "/properties/validityTime/expiredTime", "must be a string"},
		{"validityPeriod an object", feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":{}}}`), f0 + "/properties/validityTime/validityPeriod", "must be an array"},
		{"a period a number", feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":[5]}}`), f0 + "/properties/validityTime/validityPeriod", "must be an array"},
		{"startTime a number", feature(square, `{"geometryId":"a","validityTime":{"validityPeriod":[{"startTime":1,"endTime":"2026-01-02T00:00:00Z"}]}}`), f0 + "/properties/validityTime/validityPeriod/0/startTime", "must be a string"},
		{"recurrenceType a number", period(`"recurrenceType":1`), f0 + "/properties/validityTime/validityPeriod/0/recurrenceType", "Daily"},
		{"recurrenceFrequency a string", period(`"recurrenceFrequency":"2"`), f0 + "/properties/validityTime/validityPeriod/0/recurrenceFrequency", "whole number"},
		{"recurrenceFrequency a fraction", period(`"recurrenceFrequency":2.5`), f0 + "/properties/validityTime/validityPeriod/0/recurrenceFrequency", "whole number"},
		{"businessDayOnly a string", period(`"businessDayOnly":"yes"`), f0 + "/properties/validityTime/validityPeriod/0/businessDayOnly", "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validateBoth(t, []byte(tt.doc))
			got := problemsOf(t, err)
			for _, p := range got {
				if p.Pointer == tt.wantPointer && strings.Contains(p.Message, tt.wantText) {
					return
				}
			}
			t.Errorf("no problem at %q saying %q; got %v", tt.wantPointer, tt.wantText, got)
		})
	}
}

// membersReversed is the JSON value v with the members of every object in the
// opposite order, which the rules must not notice.
func membersReversed(t *testing.T, v jsontext.Value) []byte {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	switch v.Kind() {
	case '{':
		var names []string
		var values [][]byte
		dec.ReadToken()
		for dec.PeekKind() != '}' {
			name, _ := dec.ReadToken()
			names = append(names, name.String())
			value, err := dec.ReadValue()
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, membersReversed(t, value))
		}
		out := []byte{'{'}
		for i := len(names) - 1; i >= 0; i-- {
			out = strconv.AppendQuote(out, names[i])
			out = append(append(out, ':'), values[i]...)
			if i > 0 {
				out = append(out, ',')
			}
		}
		return append(out, '}')
	case '[':
		out := []byte{'['}
		dec.ReadToken()
		for dec.PeekKind() != ']' {
			value, err := dec.ReadValue()
			if err != nil {
				t.Fatal(err)
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, membersReversed(t, value)...)
		}
		return append(out, ']')
	}
	return bytes.Clone(v)
}

// Members come in any order: the type of the document after its
// features, a geometry's type after its coordinates, properties after
// the geometry. The answers are the same.
func TestValidateMemberOrder(t *testing.T) {
	planted, _ := collection(256<<10, 5, false)
	docs := map[string]string{
		"guide sample":     guideSample,
		"planted problems": string(planted),
		"a single feature": `{"type":"Feature","properties":{"geometryId":"a","radius":5},"geometry":{"type":"Point","coordinates":[1,2]}}`,
		"a feature with problems": `{"type":"Feature","properties":{"geometryId":"a","radius":5,"validityTime":{"expiredTime":5,"validityPeriod":[{"endTime":"2026-01-01T00:00:00Z","startTime":"2026-01-02T00:00:00Z","recurrenceType":"Hourly"}]}},
		  "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]],[[0,0],[200,0],[0,1]]]}}`,
		"not a feature collection": `{"type":"Polygon","features":[{"type":"Feature"}],"geometry":{"type":"Point","coordinates":[1,2]}}`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			back := membersReversed(t, jsontext.Value(doc))
			_, err := validateBoth(t, []byte(doc))
			_, errBack := validateBoth(t, back)
			if fmt.Sprint(err) != fmt.Sprint(errBack) {
				t.Fatalf("in order: %v\nreversed: %v", err, errBack)
			}
			var inv, invBack *InvalidError
			if errors.As(err, &inv) && errors.As(errBack, &invBack) && !reflect.DeepEqual(inv.Problems, invBack.Problems) {
				t.Fatalf("in order:\n%v\nreversed:\n%v", inv.Problems, invBack.Problems)
			}
			fences, _ := ParseBytes([]byte(doc))
			fencesBack, _ := ParseBytes(back)
			if !reflect.DeepEqual(fences, fencesBack) {
				t.Errorf("the fences differ:\n%+v\n%+v", fences, fencesBack)
			}
		})
	}
}

// A member given twice is a problem where it is, and the reading goes
// on to report the rest.
func TestValidateDuplicateMembers(t *testing.T) {
	doc := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"geometryId":"a","geometryId":"b","radius":5},"geometry":{"type":"Point","coordinates":[1,2]}},
	 {"type":"Feature","properties":{"geometryId":"c"},"geometry":{"type":"Point","coordinates":[1,2],"coordinates":[3,4]}},
	 {"type":"Feature","properties":{"geometryId":"d","radius":0},"geometry":{"type":"Point","coordinates":[1,2]}}],
	 "features":[]}`
	_, err := validateBoth(t, []byte(doc))
	got := problemsOf(t, err)
	want := []struct {
		feature       int
		pointer, text string
	}{
		{0, "/features/0/properties/geometryId", `"geometryId" is given more than once`},
		{1, "/features/1/geometry/coordinates", `"coordinates" is given more than once`},
		{1, "/features/1/properties/radius", "needs a radius"},
		{2, "/features/2/properties/radius", "out of range"},
		{-1, "/features", `"features" is given more than once`},
	}
	if len(got) != len(want) {
		t.Fatalf("problems %v, want %d", got, len(want))
	}
	for i, w := range want {
		if g := got[i]; g.Feature != w.feature || g.Pointer != w.pointer || !strings.Contains(g.Message, w.text) {
			t.Errorf("problem %d is %s, want feature %d at %s saying %q", i, g, w.feature, w.pointer, w.text)
		}
	}
}

func TestValidateSyntaxErrorSaysWhere(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"cut short", `{"type":`, []string{"line 1, column 9", "in /type", "unexpected EOF"}},
		{"a stray comma", "{\"type\":\"FeatureCollection\",\n\"features\":[\n  {\"type\":\"Feature\",,}]}", []string{"line 3, column 21", "in /features/0", "invalid character ','"}},
		{"more after the document", `{"type":"Feature"} {}`, []string{"after the document", "line 1, column 19", "more JSON follows"}},
		{"not UTF-8", "{\"type\":\"Feature\",\"properties\":{\"name\":\"\xff\"}}", []string{"line 1, column 41", "in /properties/name", "invalid UTF-8"}},
		{"empty", " \n ", []string{"the document is empty"}},
		{"a comment", "{\"type\":\"Feature\" // a fence\n}", []string{"line 1, column 19", "invalid character '/'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validateBoth(t, []byte(tt.doc))
			got := problemsOf(t, err)[0]
			if got.Pointer != "" || got.Feature != -1 || !strings.HasPrefix(got.Message, "not valid JSON") {
				t.Fatalf("first problem %s, want not valid JSON", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Message, w) {
					t.Errorf("%q does not say %q", got.Message, w)
				}
			}
		})
	}
}

// A syntax error far into a large file is still given as a line and
// column, past many reads.
func TestValidateSyntaxErrorDeepInAFile(t *testing.T) {
	data, _ := collection(3<<20, 0, false)
	at := bytes.LastIndex(data, []byte("\n{")) + 1 // the last feature, on its own line
	lines := bytes.Count(data[:at], []byte("\n"))
	broken := append(bytes.Clone(data[:at]), `{"type":"Feature",]`...)
	_, err := validateBoth(t, broken)
	got := problemsOf(t, err)[0].Message
	if want := fmt.Sprintf("line %d, column 18", lines+1); !strings.Contains(got, want) {
		t.Errorf("%q does not say %s", got, want)
	}
}

// collectionReader streams a FeatureCollection of size bytes (endless
// when size is 0) of one polygon of 2,000 vertices written again and
// again, each time with the next geometryId, unless sameID. It notes how
// much it gave, and the most heap in use whenever 4 MB more was read.
type collectionReader struct {
	size    int64
	sameID  bool
	polygon []byte // a feature after its geometryId
	id      int
	pending []byte
	gave    int64
	maxHeap uint64
	sampled int64
}

func newCollectionReader(size int64, sameID bool) *collectionReader {
	ring := zoneRing(rand.New(rand.NewPCG(1, 1)), 2000, 10, 50)
	polygon := `"},"geometry":{"type":"Polygon","coordinates":[` + string(appendRing(nil, ring)) + "]}}"
	return &collectionReader{size: size, sameID: sameID, polygon: []byte(polygon),
		pending: []byte(`{"type":"FeatureCollection","features":[`)}
}

func (c *collectionReader) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.size > 0 && c.gave == c.size {
			return 0, io.EOF
		}
		c.next()
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	c.gave += int64(n)
	if c.gave >= c.sampled {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		c.maxHeap = max(c.maxHeap, m.HeapAlloc)
		c.sampled += 4 << 20
	}
	return n, nil
}

// next puts the next feature in pending, or, when there is no room for
// another, white space and the end, to make size bytes in all.
func (c *collectionReader) next() {
	var b []byte
	if c.id > 0 {
		b = append(b, ",\n"...)
	}
	id := "same"
	if !c.sameID {
		id = strconv.Itoa(c.id)
	}
	b = append(b, `{"type":"Feature","properties":{"geometryId":"`...)
	b = append(append(b, id...), c.polygon...)
	if left := c.size - c.gave; c.size > 0 && int64(len(b)+len(c.polygon)+100) > left {
		b = append(bytes.Repeat([]byte{' '}, int(left)-2), "]}"...)
	}
	c.pending = b
	c.id++
}

func TestValidateTooLarge(t *testing.T) {
	if raceDetector {
		t.Skip("100 MB under the race detector takes minutes; .ci/run runs this package without it too")
	}
	t.Run("at the limit", func(t *testing.T) {
		c := newCollectionReader(MaxUploadSize, false)
		n, err := Validate(c)
		if err != nil || n < 2000 {
			t.Errorf("%d fences, %v; want over 2,000, valid", n, err)
		}
		if c.gave != MaxUploadSize {
			t.Errorf("gave %d bytes, want %d", c.gave, MaxUploadSize)
		}
	})
	t.Run("one byte over", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(" "), newCollectionReader(MaxUploadSize, false))
		if _, err := Validate(r); !errors.Is(err, ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("broken early, and over", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(`{"type":,`), io.LimitReader(newCollectionReader(0, true), MaxUploadSize))
		if _, err := Validate(r); !errors.Is(err, ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge: the service refuses the size first", err)
		}
	})
	t.Run("endless", func(t *testing.T) {
		runtime.GC() // so that the heap measured is this test's
		c := newCollectionReader(0, true)
		if _, err := Parse(c); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if c.gave > MaxUploadSize+1 {
			t.Errorf("read %d bytes; one past %d is enough", c.gave, MaxUploadSize)
		}
		// Reading it all into memory would take 100 MB; streaming, it
		// takes a few MB of live heap and its garbage.
		if c.maxHeap > 64<<20 {
			t.Errorf("the heap reached %d MB while reading", c.maxHeap>>20)
		}
		t.Logf("the heap peaked at %.1f MB", float64(c.maxHeap)/(1<<20))
	})
}

// failing gives data, then an error.
type failing struct {
	data []byte
	err  error
}

func (f *failing) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestValidateReadError(t *testing.T) {
	broken := errors.New("the card was pulled")
	_, err := Validate(&failing{data: []byte(guideSample[:100]), err: broken})
	if !errors.Is(err, broken) {
		t.Fatalf("err = %v, want the read error", err)
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		t.Errorf("a read error is not a problem with the file: %v", err)
	}
}

// decimal gives exactly what strconv.ParseFloat gives, or declines.
func TestDecimal(t *testing.T) {
	cases := []string{"0", "-0", "1", "-1", "0.1", "0.3", "179.999999", "-122.126986", "47.639754", "123456789012345",
		"0.000000000000001", "999999999999999", "1.00000000000000", "1234567890123456", "1e5", "1E-3", "0.1234567890123456789"}
	rng := rand.New(rand.NewPCG(9, 9))
	for range 200000 {
		digits := 1 + rng.IntN(17)
		s := strconv.FormatUint(rng.Uint64N(uint64(math.Pow10(digits))), 10)
		if k := rng.IntN(len(s) + 1); k < len(s) {
			s = strings.TrimLeft(s[:k], "0") + "." + s[k:]
			if s[0] == '.' {
				s = "0" + s
			}
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	declined := 0
	for _, s := range cases {
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, ok := decimal(s)
		if !ok {
			declined++
			continue
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("decimal(%q) = %v, ParseFloat says %v", s, got, want)
		}
	}
	if declined == 0 || declined > len(cases)/2 {
		t.Errorf("declined %d of %d: the test did not try both ways", declined, len(cases))
	}
}

func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0", "12.5", "-122.126986", "123456789012345", "1234567890123456", "1e5", ".5", "5.", "--1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decimal(s)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("decimal(%q) = %v; ParseFloat: %v, %v", s, got, want, err)
		}
	})
}
