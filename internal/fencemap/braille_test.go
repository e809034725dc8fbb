package fencemap_test

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/paulmach/orb"

	"github.com/mapsdevice/mapsdevice/internal/fencemap"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// metresPerDegree of latitude, on the mean-radius sphere.
const metresPerDegree = 6371008.8 * math.Pi / 180

// dots reads the braille of a picture back into the dots it lights.
type dots map[[2]int]bool

func readDots(lines []string) dots {
	d := dots{}
	bit := [2][4]rune{{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}}
	for row, line := range lines {
		for col, r := range []rune(ansi.Strip(line)) {
			if r < 0x2800 || r > 0x28ff {
				continue
			}
			for x := range 2 {
				for y := range 4 {
					if (r-0x2800)&bit[x][y] != 0 {
						d[[2]int{2*col + x, 4*row + y}] = true
					}
				}
			}
		}
	}
	return d
}

func (d dots) bounds() (minX, minY, maxX, maxY int) {
	minX, minY, maxX, maxY = math.MaxInt, math.MaxInt, math.MinInt, math.MinInt
	for p := range d {
		minX, maxX = min(minX, p[0]), max(maxX, p[0])
		minY, maxY = min(minY, p[1]), max(maxY, p[1])
	}
	return
}

// square is a polygon fence side degrees of latitude high, and as many
// metres wide as high, with its south-west corner at lon, lat.
func square(id string, lon, lat, side float64) geofence.Fence {
	w := side / math.Cos((lat+side/2)*math.Pi/180)
	return geofence.Fence{GeometryID: id, Kind: geofence.KindPolygon, Geometry: orb.Polygon{{
		{lon, lat}, {lon + w, lat}, {lon + w, lat + side}, {lon, lat + side}, {lon, lat},
	}}}
}

func circleFence(id string, lon, lat, radius float64) geofence.Fence {
	return geofence.Fence{GeometryID: id, Kind: geofence.KindCircle, Geometry: orb.Point{lon, lat}, Radius: radius}
}

var barPattern = regexp.MustCompile(`├(─*)┤ ([0-9.]+) (k?m)`)

// scaleBar reads the bottom line's bar: the metres it states and the
// dots between the middles of its end ticks.
func scaleBar(t *testing.T, lines []string) (metres float64, dotsSpanned int) {
	t.Helper()
	m := barPattern.FindStringSubmatch(ansi.Strip(lines[len(lines)-1]))
	if m == nil {
		t.Fatalf("no scale bar on the last line %q", lines[len(lines)-1])
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		t.Fatal(err)
	}
	if m[3] == "km" {
		v *= 1000
	}
	return v, 2 * (len([]rune(m[1])) + 1)
}

// TestSquareBorder draws a 0.01° square (1113 m a side) at 80×24: the
// lit dots are its border, where its side in metres over the stated
// scale puts them, centred, with its id inside.
func TestSquareBorder(t *testing.T) {
	const side = 0.01
	pic, err := fencemap.Draw(fencemap.Scene{Fences: []geofence.Fence{square("sq", 10, 0, side)}}, fencemap.Options{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", strings.Join(pic.Lines, "\n"))
	barMetres, barDots := scaleBar(t, pic.Lines)
	perDot := barMetres / float64(barDots) // what a reader works out
	d := readDots(pic.Lines)
	minX, minY, maxX, maxY := d.bounds()
	sideDots := side * metresPerDegree / perDot
	if got := float64(maxX - minX); math.Abs(got-sideDots) > 1 {
		t.Errorf("the square is %v dots wide, want %.1f (1113 m at %.2f m a dot)", got, sideDots, perDot)
	}
	if got := float64(maxY - minY); math.Abs(got-sideDots) > 1 {
		t.Errorf("the square is %v dots tall, want %.1f", got, sideDots)
	}
	// Centred on the 160×92 dots of the map.
	if mid := float64(minX+maxX) / 2; math.Abs(mid-80) > 1.5 {
		t.Errorf("the square's middle is at dot %v across, want 80", mid)
	}
	if mid := float64(minY+maxY) / 2; math.Abs(mid-46) > 1.5 {
		t.Errorf("the square's middle is at dot %v down, want 46", mid)
	}
	for p := range d {
		if p[0] != minX && p[0] != maxX && p[1] != minY && p[1] != maxY {
			t.Errorf("dot %v is lit off the border", p)
		}
	}
	for y := minY; y <= maxY; y++ {
		if !d[[2]int{minX, y}] || !d[[2]int{maxX, y}] {
			t.Errorf("a gap in the west or east side at dot row %d", y)
		}
	}
	for x := minX; x <= maxX; x++ {
		if !d[[2]int{x, minY}] || !d[[2]int{x, maxY}] {
			t.Errorf("a gap in the north or south side at dot column %d", x)
		}
	}
	// The label is inside the square.
	found := false
	for row, line := range pic.Lines {
		if col := strings.Index(line, "sq"); col >= 0 {
			c := len([]rune(line[:col]))
			found = true
			if row*4 <= minY || row*4+3 >= maxY || 2*c <= minX || 2*(c+2) >= maxX {
				t.Errorf("the label is at line %d column %d, not inside the square", row, c)
			}
		}
	}
	if !found {
		t.Error("no label sq")
	}
}

// TestScaleBarMatchesDots: the distance the bar states spans the dots it
// says, within a dot, at every size and extent.
func TestScaleBarMatchesDots(t *testing.T) {
	for _, side := range []float64{0.0001, 0.003, 0.05, 1, 20} {
		for _, size := range [][2]int{{20, 4}, {80, 24}, {132, 43}} {
			t.Run(fmt.Sprintf("%g°/%dx%d", side, size[0], size[1]), func(t *testing.T) {
				pic, err := fencemap.Draw(fencemap.Scene{Fences: []geofence.Fence{square("a", 5, 40, side)}}, fencemap.Options{Width: size[0], Height: size[1]})
				if err != nil {
					t.Fatal(err)
				}
				barMetres, barDots := scaleBar(t, pic.Lines)
				if got := barMetres / pic.MetresPerDot; math.Abs(got-float64(barDots)) > 1 {
					t.Errorf("%g m is %.2f dots at the drawn scale; the bar spans %d", barMetres, got, barDots)
				}
				minX, minY, maxX, maxY := readDots(pic.Lines).bounds()
				want := side * metresPerDegree / (barMetres / float64(barDots))
				if side >= 0.003 && (math.Abs(float64(maxX-minX)-want) > 1 || math.Abs(float64(maxY-minY)-want) > 1) {
					t.Errorf("the square spans %d×%d dots; by the bar it should span %.1f", maxX-minX, maxY-minY, want)
				}
			})
		}
	}
}

// TestCircleIsRound: a 500 m circle is as wide as it is tall, in dots,
// and 1000 m across by the bar.
func TestCircleIsRound(t *testing.T) {
	for _, lat := range []float64{0, 47.639754, 70} {
		t.Run(fmt.Sprint(lat), func(t *testing.T) {
			pic, err := fencemap.Draw(fencemap.Scene{Fences: []geofence.Fence{circleFence("001", -122.126986, lat, 500)}}, fencemap.Options{Width: 80, Height: 24})
			if err != nil {
				t.Fatal(err)
			}
			minX, minY, maxX, maxY := readDots(pic.Lines).bounds()
			barMetres, barDots := scaleBar(t, pic.Lines)
			perDot := barMetres / float64(barDots)
			if w, h := float64(maxX-minX)*perDot, float64(maxY-minY)*perDot; math.Abs(w-1000) > 2*perDot || math.Abs(h-1000) > 2*perDot {
				t.Errorf("the circle is %.0f m wide and %.0f m tall, want 1000 each (%.1f m a dot)", w, h, perDot)
			}
			if !strings.Contains(strings.Join(pic.Lines, "\n"), "001") {
				t.Error("no label 001")
			}
		})
	}
}

// TestNeverLargerThanAsked: whatever is drawn, no line is wider and there
// are no more lines than asked, with colour or without.
func TestNeverLargerThanAsked(t *testing.T) {
	long := strings.Repeat("a-very-long-geometry-id-", 10)
	scenes := map[string]fencemap.Scene{
		"square":    {Fences: []geofence.Fence{square("sq", 10, 0, 0.01)}},
		"long id":   {Fences: []geofence.Fence{square(long, 10, 0, 0.01), circleFence(long+"2", 10.005, 0.005, 100)}},
		"track":     {Track: []orb.Point{{1, 1}, {1.001, 1.002}, {1.003, 1.001}}},
		"one point": {Track: []orb.Point{{1, 1}}},
		"line": {Fences: []geofence.Fence{{GeometryID: "road", Kind: geofence.KindLine, Radius: 10,
			Geometry: orb.LineString{{0, 0}, {0.02, 0.01}, {0.03, 0}}}}},
		"many": {Fences: []geofence.Fence{square("a", 0, 0, 0.001), square("b", 0.002, 0, 0.001), square("c", 0, 0.002, 0.001),
			circleFence("d", 0.0025, 0.0025, 50), circleFence("e", 0.001, 0.001, 5)}, Track: []orb.Point{{0, 0}, {0.003, 0.003}}},
		"world": {Fences: []geofence.Fence{square("w", -170, -60, 120)}},
	}
	sizes := [][2]int{{20, 4}, {21, 5}, {80, 24}, {33, 7}, {200, 60}, {40, 50}}
	for name, sc := range scenes {
		for _, size := range sizes {
			for _, color := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%dx%d/color=%v", name, size[0], size[1], color), func(t *testing.T) {
					pic, err := fencemap.Draw(sc, fencemap.Options{Width: size[0], Height: size[1], Color: color})
					if err != nil {
						t.Fatal(err)
					}
					if len(pic.Lines) > size[1] {
						t.Errorf("%d lines, asked for %d", len(pic.Lines), size[1])
					}
					for i, l := range pic.Lines {
						if w := ansi.StringWidth(l); w > size[0] {
							t.Errorf("line %d is %d cells wide, asked for %d: %q", i, w, size[0], l)
						}
						if !color && strings.ContainsRune(l, '\x1b') {
							t.Errorf("line %d has an escape without colour: %q", i, l)
						}
					}
				})
			}
		}
	}
}

// TestAntimeridian: a fence across 180° is drawn at its own scale, a few
// hundred metres a dot, not the whole world's.
func TestAntimeridian(t *testing.T) {
	f := geofence.Fence{GeometryID: "dateline", Kind: geofence.KindPolygon, Geometry: orb.Polygon{{
		{179.99, -16.8}, {-179.99, -16.8}, {-179.99, -16.78}, {179.99, -16.78}, {179.99, -16.8},
	}}}
	track := []orb.Point{{179.995, -16.79}, {-179.995, -16.79}}
	pic, err := fencemap.Draw(fencemap.Scene{Fences: []geofence.Fence{f}, Track: track}, fencemap.Options{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", strings.Join(pic.Lines, "\n"))
	if pic.MetresPerDot > 50 {
		t.Errorf("%.0f m a dot for a fence 2 km across", pic.MetresPerDot)
	}
	minX, _, maxX, _ := readDots(pic.Lines).bounds()
	if w := float64(maxX-minX) * pic.MetresPerDot; math.Abs(w-2130) > 3*pic.MetresPerDot {
		t.Errorf("the fence is drawn %.0f m wide, want about 2130", w)
	}
}

// TestTrackMarkers: the track's positions are dots, its first marked S
// and its last E, with the legend when there is room.
func TestTrackMarkers(t *testing.T) {
	track := []orb.Point{{0, 0}, {0.001, 0.0005}, {0.002, 0.001}, {0.003, 0.003}}
	pic, err := fencemap.Draw(fencemap.Scene{Track: track}, fencemap.Options{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(pic.Lines, "\n")
	t.Logf("\n%s", all)
	for _, want := range []string{"S", "E", "S first  E last position"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q", want)
		}
	}
	// Two positions are under the markers; the other two are dots.
	if n := len(readDots(pic.Lines)); n != 2 {
		t.Errorf("%d dots lit, want the 2 positions between first and last", n)
	}
	s, e := -1, -1
	for row, line := range pic.Lines[:len(pic.Lines)-1] {
		if strings.Contains(line, "S") {
			s = row
		}
		if strings.Contains(line, "E") {
			e = row
		}
	}
	if s <= e {
		t.Errorf("S on line %d and E on line %d: the track goes north-east, so E must be higher", s, e)
	}
}

// TestLabelsCannotDriveTheTerminal: an id with escape sequences is drawn
// with them made harmless.
func TestLabelsCannotDriveTheTerminal(t *testing.T) {
	pic, err := fencemap.Draw(fencemap.Scene{Fences: []geofence.Fence{square("a\x1b]0;pwned\x07b", 0, 0, 0.01)}}, fencemap.Options{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(pic.Lines, "\n")
	if strings.ContainsAny(all, "\x1b\x07") {
		t.Errorf("control characters reached the picture: %q", all)
	}
	if !strings.Contains(all, "a?]0;pwned?b") {
		t.Errorf("the label is not shown with its control characters replaced:\n%s", all)
	}
}

func TestDrawRefuses(t *testing.T) {
	if _, err := fencemap.Draw(fencemap.Scene{}, fencemap.Options{Width: 80, Height: 24}); !errors.Is(err, fencemap.ErrEmpty) {
		t.Errorf("empty scene: %v, want ErrEmpty", err)
	}
	sc := fencemap.Scene{Track: []orb.Point{{0, 0}}}
	for _, size := range [][2]int{{19, 24}, {80, 3}, {0, 0}} {
		if _, err := fencemap.Draw(sc, fencemap.Options{Width: size[0], Height: size[1]}); err == nil {
			t.Errorf("drew at %dx%d", size[0], size[1])
		}
	}
}

// TestColourMarksShapes: with colour, the fence and track cells are
// coloured and every line ends reset.
func TestColourMarksShapes(t *testing.T) {
	pic, err := fencemap.Draw(fencemap.Scene{Fences: []geofence.Fence{square("sq", 0, 0, 0.01)}, Track: []orb.Point{{0.001, 0.001}, {0.005, 0.005}, {0.008, 0.002}}},
		fencemap.Options{Width: 80, Height: 24, Color: true})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(pic.Lines, "\n")
	for _, want := range []string{"\x1b[36m", "\x1b[33m", "\x1b[1;32mS", "\x1b[1;31mE", "\x1b[1msq"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the coloured picture", want)
		}
	}
	for i, l := range pic.Lines {
		if k := strings.LastIndex(l, "\x1b["); k >= 0 && !strings.HasPrefix(l[k:], "\x1b[0m") {
			t.Errorf("line %d does not end reset: %q", i, l)
		}
	}
}
