package cli_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/cli"
)

// sampleFence is the guide's fence: a 500 m circle in Redmond.
const sampleFence = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500}}]}`

// campusFence is a polygon 0.01° of latitude high (1112 m) and as many
// metres wide, with a track across it from south-west to north-east.
const campusFence = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.14,47.63],[-122.125178,47.63],[-122.125178,47.64],[-122.14,47.64],[-122.14,47.63]]]},"properties":{"geometryId":"campus"}}]}`

const campusTrack = `{"lat":47.628,"lon":-122.143,"deviceId":"pi-1"}
{"lat":47.632,"lon":-122.137}

{"lat":47.635,"lon":-122.133,"time":"2026-01-31T08:00:00Z"}
{"lat":47.638,"lon":-122.129}
{"lat":47.642,"lon":-122.122}
`

// screenDots reads the braille of a screen back into dots, and the scale
// its bar states.
type screenDots struct {
	minX, minY, maxX, maxY int
	n                      int
	barMetres              float64
	barDots                int
}

var showBar = regexp.MustCompile(`├(─*)┤ ([0-9.]+) (k?m)`)

func readScreen(t *testing.T, screen string) screenDots {
	t.Helper()
	d := screenDots{minX: math.MaxInt, minY: math.MaxInt, maxX: -1, maxY: -1}
	bit := [2][4]rune{{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}}
	for row, line := range strings.Split(ansi.Strip(screen), "\n") {
		for col, r := range []rune(line) {
			if r < 0x2801 || r > 0x28ff {
				continue
			}
			for x := range 2 {
				for y := range 4 {
					if (r-0x2800)&bit[x][y] != 0 {
						d.n++
						d.minX, d.maxX = min(d.minX, 2*col+x), max(d.maxX, 2*col+x)
						d.minY, d.maxY = min(d.minY, 4*row+y), max(d.maxY, 4*row+y)
					}
				}
			}
		}
	}
	m := showBar.FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no scale bar on the screen:\n%s", screen)
	}
	d.barMetres, _ = strconv.ParseFloat(m[2], 64)
	if m[3] == "km" {
		d.barMetres *= 1000
	}
	d.barDots = 2 * (len([]rune(m[1])) + 1)
	return d
}

// size is the drawn extent in metres, by the scale bar.
func (d screenDots) size() (w, h float64) {
	perDot := d.barMetres / float64(d.barDots)
	return float64(d.maxX-d.minX) * perDot, float64(d.maxY-d.minY) * perDot
}

// picture is what the command drew in the pane: the lines above the
// shell's EXIT line, scrolled-off ones included, with the count that
// leaves no line for the prompt failing the test.
func picture(t *testing.T, pane *tmuxPane) string {
	t.Helper()
	pane.waitFor("EXIT=0", 20*time.Second)
	all := strings.Split(pane.tmux("capture-pane", "-p", "-S", "-20"), "\n")
	end := slices.IndexFunc(all, func(l string) bool { return strings.HasPrefix(l, "EXIT=") })
	start := 0
	for start < end && strings.TrimSpace(all[start]) == "" {
		start++
	}
	lines := all[start:end]
	if len(lines) > 23 {
		t.Errorf("%d lines in a 24-line pane leave no line for the prompt", len(lines))
	}
	return strings.Join(lines, "\n")
}

func checkWidth(t *testing.T, screen string, width int) {
	t.Helper()
	for i, line := range strings.Split(screen, "\n") {
		if n := ansi.StringWidth(line); n > width {
			t.Errorf("line %d is %d columns wide: %q", i, n, line)
		}
	}
}

// TestGeofenceShowInTmux draws in a real 80×24 terminal: the guide's
// circle is a ring of braille as wide as it is tall, 1000 m across by the
// scale bar, labelled 001; a polygon with a track shows its label, the
// track's first and last positions and its dots.
func TestGeofenceShowInTmux(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("guide fence", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, e.home, "fences.geojson", sampleFence)
		pane := startPane(t, 80, 24, e.own, "geofence", "show", file)
		screen := picture(t, pane)
		t.Logf("\n%s", screen)
		d := readScreen(t, screen)
		w, h := d.size()
		perDot := d.barMetres / float64(d.barDots)
		if math.Abs(w-1000) > 2*perDot || math.Abs(h-1000) > 2*perDot {
			t.Errorf("the circle is drawn %.0f m wide and %.0f m tall (%.1f m a dot), want 1000 each", w, h, perDot)
		}
		if d.maxY-d.minY < 60 {
			t.Errorf("the circle is %d dots tall; it should fill most of the 92", d.maxY-d.minY)
		}
		if !strings.Contains(screen, "001") {
			t.Error("no label 001")
		}
		checkWidth(t, screen, 80)
	})
	t.Run("polygon and track", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, e.home, "campus.geojson", campusFence)
		track := writeFile(t, e.home, "track.ndjson", campusTrack)
		pane := startPane(t, 80, 24, e.own, "geofence", "show", file, "--track", track)
		screen := picture(t, pane)
		t.Logf("\n%s", screen)
		for _, want := range []string{"campus", "S", "E", "first", "last position"} {
			if !strings.Contains(screen, want) {
				t.Errorf("no %q on the screen", want)
			}
		}
		lines := strings.Split(screen, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "├") {
				lines = lines[:i] // the map above the scale bar
				break
			}
		}
		s, e := -1, -1
		for i, l := range lines {
			if strings.ContainsRune(l, 'S') {
				s = i
			}
			if strings.ContainsRune(l, 'E') {
				e = i
			}
		}
		if s < 0 || e < 0 || s <= e {
			t.Errorf("S on line %d, E on line %d: the track runs north-east", s, e)
		}
		checkWidth(t, screen, 80)
	})
}

// TestGeofenceShowToAPipe: with no terminal, the picture is plain text of
// --width by --height (or MAPSDEVICE_WIDTH and _HEIGHT), and --json puts
// it in one event.
func TestGeofenceShowToAPipe(t *testing.T) {
	home := hermetic(t)
	file := writeFile(t, home, "fences.geojson", sampleFence)
	t.Setenv("NO_COLOR", "")

	r := runMain(t, "geofence", "show", file, "--width", "40", "--height", "12")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if strings.Contains(r.out, "\x1b") {
		t.Errorf("escapes in a pipe: %q", r.out)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) > 12 {
		t.Errorf("%d lines, asked for 12", len(lines))
	}
	checkWidth(t, r.out, 40)
	if w, h := readScreen(t, r.out).size(); math.Abs(w-h) > 2*readScreen(t, r.out).barMetres/float64(readScreen(t, r.out).barDots) {
		t.Errorf("the circle is %.0f m wide and %.0f m tall", w, h)
	}

	t.Setenv("MAPSDEVICE_WIDTH", "30")
	t.Setenv("MAPSDEVICE_HEIGHT", "8")
	r = runMain(t, "geofence", "show", file)
	if lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n"); r.code != 0 || len(lines) > 8 {
		t.Errorf("with MAPSDEVICE_WIDTH=30 and _HEIGHT=8: exit %d, %d lines", r.code, len(lines))
	}
	checkWidth(t, r.out, 30)

	r = runMain(t, "geofence", "show", file, "--json")
	evs := r.events(t)
	if r.code != 0 || len(evs) != 1 || evs[0]["event"] != "fence_map" || evs[0]["fences"] != 1.0 {
		t.Fatalf("--json: exit %d, %v", r.code, evs)
	}
	if n := len(evs[0]["lines"].([]any)); n == 0 || n > 8 {
		t.Errorf("--json has %d lines", n)
	}

	// Colour only on a terminal, and never with NO_COLOR.
	r = mainWith(t, cli.Stdio{OutTerminal: true}, "", "geofence", "show", file)
	if !strings.Contains(r.out, "\x1b[36m") {
		t.Errorf("no colour on a terminal: %q", r.out)
	}
	t.Setenv("NO_COLOR", "1")
	r = mainWith(t, cli.Stdio{OutTerminal: true}, "", "geofence", "show", file)
	if strings.Contains(r.out, "\x1b") {
		t.Errorf("colour with NO_COLOR set: %q", r.out)
	}
}

// TestGeofenceShowFailures: each failure has its exit code and one error
// event with --json, and nothing is drawn.
func TestGeofenceShowFailures(t *testing.T) {
	home := hermetic(t)
	good := writeFile(t, home, "fences.geojson", sampleFence)
	bad := writeFile(t, home, "bad.geojson", badFence)
	badTrack := writeFile(t, home, "bad.ndjson", "{\"lat\":47.6,\"lon\":-122.1}\n{\"lat\":95,\"lon\":0}\n")
	empty := writeFile(t, home, "empty.geojson", `{"type":"FeatureCollection","features":[]}`)
	if err := os.Symlink(filepath.Join(home, "elsewhere.png"), filepath.Join(home, "link.png")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		errCode string
		says    string
	}{
		{"invalid fence", []string{bad}, 65, "invalid_geojson", "radius"},
		{"bad track line", []string{good, "--track", badTrack}, 65, "invalid_position", "Line 2"},
		{"missing track", []string{good, "--track", filepath.Join(home, "nope.ndjson")}, 64, "usage", "--track"},
		{"no fences", []string{empty}, 65, "invalid_geojson", "no features"},
		{"too narrow", []string{good, "--width", "10"}, 64, "usage", "--width 10"},
		{"bad png size", []string{good, "--png", filepath.Join(home, "map.png"), "--png-size", "5000x10"}, 64, "usage", "--png-size"},
		{"png is a link", []string{good, "--png", filepath.Join(home, "link.png")}, 64, "usage", "symbolic link"},
		{"png is a folder", []string{good, "--png", home}, 64, "usage", "folder"},
		{"png folder missing", []string{good, "--png", filepath.Join(home, "no", "map.png")}, 64, "usage", "does not exist"},
		{"both stdin", []string{"-", "--track", "-"}, 64, "usage", "standard input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMain(t, append([]string{"geofence", "show"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.err, tt.says) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", r.code, r.err, tt.code, tt.says)
			}
			if strings.ContainsRune(r.out, '├') {
				t.Errorf("drew despite the error: %s", r.out)
			}
			r = runMain(t, append([]string{"geofence", "show", "--json"}, tt.args...)...)
			if ev := r.errorEvent(t); ev["code"] != tt.errCode {
				t.Errorf("--json error code %v, want %s", ev["code"], tt.errCode)
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(home, "elsewhere.png")); err == nil {
		t.Error("the link's target was written")
	}
}

// TestGeofenceShowPNG fetches the image from the emulator's Render, signed
// in and with a shared key: the file is a PNG of the asked size with the
// fence's colour and the track's first and last pins on it.
func TestGeofenceShowPNG(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	signed := signedIn(t, srv, vars, emulator.ReaderUser)
	keyed := newEnv(t, "MAPSDEVICE_CA_FILE="+srv.CAFile(), "MAPSDEVICE_MAPS_ENDPOINT="+srv.MapsEndpoint(), "MAPSDEVICE_MAPS_KEY="+srv.SharedKeys()[0])
	for _, c := range []struct {
		name string
		e    *env
		size string
		w, h int
	}{{"signed in", signed, "", 800, 600}, {"shared key", keyed, "640x480", 640, 480}} {
		t.Run(c.name, func(t *testing.T) {
			fences := writeFile(t, c.e.home, "campus.geojson", campusFence)
			track := writeFile(t, c.e.home, "track.ndjson", campusTrack)
			out := filepath.Join(c.e.home, "map.png")
			args := []string{"geofence", "show", fences, "--track", track, "--png", out}
			if c.size != "" {
				args = append(args, "--png-size", c.size)
			}
			stdout, stderr, code := c.e.run(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s %s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, fmt.Sprintf("Saved a %d×%d map of 1 fence(s) and 5 position(s)", c.w, c.h)) {
				t.Errorf("stdout %q", stdout)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
				t.Errorf("the image is %d×%d, asked for %d×%d", b.Dx(), b.Dy(), c.w, c.h)
			}
			for name, want := range map[string][3]uint8{"fence": {0x00, 0x78, 0xd4}, "first pin": {0x10, 0x7c, 0x10}, "last pin": {0xd1, 0x34, 0x38}} {
				if n := pixelsNear(img, want); n < 10 {
					t.Errorf("%d pixels of the %s's colour", n, name)
				}
			}
		})
	}
	var got *emulator.Request
	for _, r := range srv.Requests() {
		if r.Path == "/map/static" {
			got = &r
		}
	}
	if got == nil {
		t.Fatal("no request reached /map/static")
	}
	if got.Query.Get("api-version") != "2024-04-01" || got.Query.Get("tilesetId") != "microsoft.base.road" || len(got.Query["path"]) != 1 || len(got.Query["pins"]) != 3 {
		t.Errorf("request %v", got.Query)
	}
}

// pixelsNear counts the pixels within a few levels of an RGB colour.
func pixelsNear(img image.Image, want [3]uint8) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, want[0]) && near(g>>8, want[1]) && near(bl>>8, want[2]) {
				n++
			}
		}
	}
	return n
}

func near(got uint32, want uint8) bool { return math.Abs(float64(got)-float64(want)) <= 8 }
