package emulator_test

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// staticPNG fetches a static image and decodes it.
func staticPNG(t *testing.T, srv *emulator.Server, q url.Values) image.Image {
	t.Helper()
	status, h, body := liveCall(t, srv, "GET", "/map/static", q, "")
	if status != 200 || h.Get("Content-Type") != "image/png" {
		t.Fatalf("%d %s %.300s", status, h.Get("Content-Type"), body)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the answer is not a PNG: %v", err)
	}
	return img
}

// lonLatPixel is where Web Mercator with 512-pixel tiles puts a point in
// an image whose top left corner is (left, top) in world pixels.
func lonLatPixel(lon, lat float64, zoom int, left, top float64) (int, int) {
	n := 512 * math.Exp2(float64(zoom))
	s := math.Sin(lat * math.Pi / 180)
	x := (lon+180)/360*n - left
	y := (0.5-math.Log((1+s)/(1-s))/(4*math.Pi))*n - top
	return int(math.Floor(x)), int(math.Floor(y))
}

func worldPixel(lon, lat float64, zoom int) (float64, float64) {
	n := 512 * math.Exp2(float64(zoom))
	s := math.Sin(lat * math.Pi / 180)
	return (lon + 180) / 360 * n, (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n
}

func sameColor(a, b image.Image, x, y int) bool {
	r1, g1, b1, a1 := a.At(x, y).RGBA()
	r2, g2, b2, a2 := b.At(x, y).RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestStaticImageDrawsPathsAndPins(t *testing.T) {
	srv := startLive(t)
	const zoom = 15
	center := [2]float64{-122.126986, 47.639754}
	square := "lcFF0000|fc00FF00|lw4|la0.8|fa0.3||-122.1300 47.6380|-122.1240 47.6380|-122.1240 47.6415|-122.1300 47.6415|-122.1300 47.6380"
	q := url.Values{
		"api-version": {"2024-04-01"}, "tilesetId": {"microsoft.base.road"}, "zoom": {"15"},
		"center": {"-122.126986,47.639754"}, "width": {"640"}, "height": {"480"},
		"path": {square},
		"pins": {"default|co0000FF||'A'-122.1212 47.6365|-122.1330 47.6430"},
	}
	img := staticPNG(t, srv, q)
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 480 {
		t.Fatalf("image %v, want 640×480", b)
	}
	plain := staticPNG(t, srv, url.Values{"api-version": {"2024-04-01"}, "zoom": {"15"}, "center": {"-122.126986,47.639754"}, "width": {"640"}, "height": {"480"}})
	cx, cy := worldPixel(center[0], center[1], zoom)
	left, top := cx-320, cy-240
	at := func(lon, lat float64) (int, int) { return lonLatPixel(lon, lat, zoom, left, top) }

	// Along each side of the square, halfway between corners: the line.
	for _, p := range [][2]float64{{-122.1270, 47.6380}, {-122.1240, 47.63975}, {-122.1270, 47.6415}, {-122.1300, 47.63975}} {
		x, y := at(p[0], p[1])
		if sameColor(img, plain, x, y) {
			t.Errorf("the path's side at %v (pixel %d,%d) is background", p, x, y)
		}
		r, g, b, _ := img.At(x, y).RGBA()
		if r <= g || r <= b {
			t.Errorf("the path's side at %v is %v, want red", p, img.At(x, y))
		}
	}
	// Inside the square: filled, green over the background.
	x, y := at(-122.1270, 47.6397)
	if sameColor(img, plain, x, y) {
		t.Errorf("inside the filled square (pixel %d,%d) is background", x, y)
	}
	if r, g, _, _ := img.At(x, y).RGBA(); g <= r {
		t.Errorf("inside the square is %v, want green-tinted", img.At(x, y))
	}
	// The pins, blue.
	for _, p := range [][2]float64{{-122.1212, 47.6365}, {-122.1330, 47.6430}} {
		x, y := at(p[0], p[1])
		if r, _, b, _ := img.At(x, y).RGBA(); b <= r {
			t.Errorf("the pin at %v (pixel %d,%d) is %v, want blue", p, x, y, img.At(x, y))
		}
	}
	// Far corners: the plain background.
	for _, c := range [][2]int{{2, 2}, {637, 2}, {2, 477}, {637, 477}} {
		if !sameColor(img, plain, c[0], c[1]) {
			t.Errorf("corner %v is %v, want the background %v", c, img.At(c[0], c[1]), plain.At(c[0], c[1]))
		}
	}
}

func TestStaticImageBBox(t *testing.T) {
	srv := startLive(t)
	const zoom = 14
	bbox := [4]float64{-122.14, 47.63, -122.11, 47.65}
	x0, y1 := worldPixel(bbox[0], bbox[1], zoom)
	x1, y0 := worldPixel(bbox[2], bbox[3], zoom)
	q := url.Values{"api-version": {"2024-04-01"}, "zoom": {"14"}, "bbox": {"-122.14,47.63,-122.11,47.65"},
		"path": {"lc000000|lw3||-122.14 47.63|-122.11 47.65"}}
	img := staticPNG(t, srv, q)
	wantW, wantH := int(math.Round(x1-x0)), int(math.Round(y1-y0))
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("image %v, want %d×%d: the bbox at zoom %d", b, wantW, wantH, zoom)
	}
	// The diagonal runs corner to corner.
	mx, my := lonLatPixel(-122.125, 47.64, zoom, x0, y0)
	if r, g, b, _ := img.At(mx, my).RGBA(); r+g+b > 3*0x4000 {
		t.Errorf("the diagonal's middle (pixel %d,%d) is %v, want black", mx, my, img.At(mx, my))
	}
	if r, g, b, _ := img.At(2, 2).RGBA(); r+g+b < 3*0xc000 {
		t.Errorf("the top left corner, away from the diagonal, is %v, want the light background", img.At(2, 2))
	}
}

func TestStaticImageCircle(t *testing.T) {
	srv := startLive(t)
	// The guide's fence: 500 m around its centre.
	q := url.Values{"api-version": {"2024-04-01"}, "zoom": {"14"}, "center": {"-122.126986,47.639754"},
		"width": {"400"}, "height": {"400"}, "path": {"ra500|lcFF0000|lw2||-122.126986 47.639754"}}
	img := staticPNG(t, srv, q)
	perPixel := 2 * math.Pi * 6378137 * math.Cos(47.639754*math.Pi/180) / (512 * math.Exp2(14))
	r := 500 / perPixel
	onRing := img.At(200+int(r), 200)
	if red, g, _, _ := onRing.RGBA(); red <= g {
		t.Errorf("east on the circle (%.0f px out) is %v, want red", r, onRing)
	}
	if c, bg := img.At(200, 200), img.At(0, 0); c != bg {
		t.Errorf("the circle's centre is %v, want the background: no fill was asked for", img.At(200, 200))
	}
}

func TestStaticImageBadRequests(t *testing.T) {
	srv := startLive(t)
	base := func(kv ...string) url.Values {
		q := url.Values{"api-version": {"2024-04-01"}, "center": {"-122.13,47.64"}, "zoom": {"15"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				q.Del(kv[i])
				continue
			}
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	tests := []struct {
		name string
		q    url.Values
		want string
	}{
		{"neither center nor bbox", base("center", ""), "center or bbox"},
		{"both", base("bbox", "-122.14,47.63,-122.11,47.65"), "mutually exclusive"},
		{"bbox with width", base("center", "", "bbox", "-122.14,47.63,-122.11,47.65", "width", "300"), "bbox cannot be used with width"},
		{"bbox too small at the zoom", base("center", "", "bbox", "-122.14,47.63,-122.11,47.65", "zoom", "10"), "choose another zoom"},
		{"width 79", base("width", "79"), "width"},
		{"width 2001", base("width", "2001"), "width"},
		{"height 1501", base("height", "1501"), "height"},
		{"zoom 21", base("zoom", "21"), "zoom"},
		{"imagery zoom 20", base("zoom", "20", "tilesetId", "microsoft.imagery"), "zoom"},
		{"unknown tileset", base("tilesetId", "microsoft.base.hybrid"), "tilesetId"},
		{"center latitude first", base("center", "47.64,-122.13"), "center"},
		{"path without ||", base("path", "lcFF0000|-122.13 47.64|-122.12 47.65"), "'||'"},
		{"path colour with #", base("path", "lc#FF0000||-122.13 47.64|-122.12 47.65"), "RRGGBB"},
		{"path lw 51", base("path", "lw51||-122.13 47.64|-122.12 47.65"), "lw"},
		{"path one point", base("path", "||-122.13 47.64"), "at least 2"},
		{"path comma location", base("path", "||-122.13,47.64|-122.12,47.65"), "longitude latitude"},
		{"pins unknown style", base("pins", "fancy||-122.13 47.64"), "style"},
		{"pins opacity 2", base("pins", "default|al2||-122.13 47.64"), "opacity"},
		{"Render 2022-08-01 here", base("api-version", "2022-08-01"), `api-version "2022-08-01"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := liveCall(t, srv, "GET", "/map/static", tt.q, "")
			wantBadRequest(t, status, body, tt.want)
		})
	}
}

func TestRender1IsRetired(t *testing.T) {
	srv := startLive(t)
	for _, path := range []string{"/map/static/png", "/map/static", "/map/tile/png"} {
		status, _, body := liveCall(t, srv, "GET", path, url.Values{"api-version": {"1.0"}, "center": {"-122.13,47.64"}, "zoom": {"12"}}, "")
		wantBadRequest(t, status, body, "retired")
	}
	// Paths that are neither canned nor retired are still not emulated.
	for _, c := range []struct{ path, version string }{{"/map/tile", "2024-04-01"}, {"/map/static/png", "2022-08-01"}} {
		status, _, body := liveCall(t, srv, "GET", c.path, url.Values{"api-version": {c.version}, "tilesetId": {"microsoft.base.road"}}, "")
		if status != 404 || !strings.Contains(string(body), "ResourceNotFound") {
			t.Errorf("%s %s: %d %s, want 404 ResourceNotFound", c.path, c.version, status, body)
		}
	}
}

func TestStaticImagePinStyles(t *testing.T) {
	srv := startLive(t)
	view := func(pins string) url.Values {
		q := url.Values{"api-version": {"2024-04-01"}, "center": {"-122.13,47.64"}, "zoom": {"12"}, "width": {"200"}, "height": {"200"}}
		if pins != "" {
			q.Set("pins", pins)
		}
		return q
	}
	plain := staticPNG(t, srv, view(""))
	tests := []struct {
		name, pins string
		drawn      bool
	}{
		{"every modifier", "default|coFF1493|al.67|sc1.5|ro90|la10 -4|an0 0|lc000000|ls12||'Start'-122.13 47.64|'B'-122.2 47.6", true},
		{"label with spaces", "default||'Home base' -122.13 47.64", true},
		{"none draws no marker", "none||'A'-122.13 47.64", false},
		{"custom, not fetched, drawn as default", "custom|an0 0||-122.13 47.64||https://contoso.example/pin.png", true},
		{"fully transparent", "default|al0||-122.13 47.64", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := staticPNG(t, srv, view(tt.pins))
			if drawn := !sameColor(img, plain, 100, 100); drawn != tt.drawn {
				t.Errorf("the pin's pixel is %v (background %v): drawn %v, want %v", img.At(100, 100), plain.At(100, 100), drawn, tt.drawn)
			}
			if !sameColor(img, plain, 190, 10) {
				t.Errorf("a far corner changed: %v", img.At(190, 10))
			}
		})
	}
	for _, bad := range []string{
		"custom||-122.13 47.64",
		"default||'A-122.13 47.64",
		"default|xx1||-122.13 47.64",
		"default|sc0||-122.13 47.64",
		"default|ro400||-122.13 47.64",
		"default|la10||-122.13 47.64",
		"default|co12345||-122.13 47.64",
		"default||-190 47.64",
		"default||" + strings.Repeat("|-122.13 47.64", 51)[1:],
	} {
		status, _, body := liveCall(t, srv, "GET", "/map/static", view(bad), "")
		wantBadRequest(t, status, body, "pins")
	}
}

// TestStaticImageExtremes draws shapes far larger than the image and
// far outside it: the answer is still an image of the asked size.
func TestStaticImageExtremes(t *testing.T) {
	srv := startLive(t)
	q := url.Values{"api-version": {"2024-04-01"}, "center": {"0,85"}, "zoom": {"20"}, "width": {"80"}, "height": {"80"},
		"path": {"ra1e300|fc00FF00||0 90", "lw50||-360 -90|360 90", "fa1||-180 -90|180 -90|180 90|-180 -90"}}
	img := staticPNG(t, srv, q)
	if b := img.Bounds(); b.Dx() != 80 || b.Dy() != 80 {
		t.Errorf("image %v, want 80×80", b)
	}
}
