package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/fencemap"
	"github.com/mapsdevice/mapsdevice/internal/report"
)

// renderAPIVersion is the Render version whose static images show asks
// for; Render 1.0 is retired.
const renderAPIVersion = "2024-04-01"

// maxImageBytes bounds the image read from Render: a 2000×1500 PNG is a
// few megabytes at most.
const maxImageBytes = 32 << 20

type showOptions struct {
	mapsOptions
	Track         string
	PNG           string
	PNGSize       string
	Width, Height int
	fs            *flag.FlagSet // to tell which were set
}

func newGeofenceShowCmd(stdio Stdio) *ffcli.Command {
	var o showOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "show",
			ShortUsage: "mapsdevice geofence show FILE [--track READINGS] [--png OUT.png] [flags]",
			ShortHelp:  "draw fences and a track in the terminal or as a map image",
			LongHelp: strings.TrimSpace(`
Draw the fences of a GeoJSON file (or - for standard input) in the
terminal with braille dots, fitted to the window, with each geometryId
beside or inside its shape and a scale bar. Circles are drawn round and
distances are true: a dot is as many metres across as down. The file is
checked first, as 'geofence validate' does. For example, the guide's
fence, a 500 m circle around a point in Redmond:
  echo '{"type":"FeatureCollection","features":[{"type":"Feature",
    "geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},
    "properties":{"geometryId":"001","radius":500}}]}' > fences.geojson
  mapsdevice geofence show fences.geojson

--track adds positions, NDJSON {"lat":47.6,"lon":-122.1} a line as
'report' and 'geofence check' read them, as dots: S marks the first and E
the last. The picture takes the terminal's size, one line less for the
prompt; into a pipe or a file it is --width by --height, plain text.
Colour is used on a terminal unless NO_COLOR is set.

--png OUT.png instead fetches a static map image from Azure Maps Render
(2024-04-01) with the fences drawn on it and the track as pins, and
writes it to OUT.png; this needs the sign-in and Maps settings (a shared
key will do). Render takes at most 10 paths of 100 points: the largest
rings are drawn, simplified within the image's pixels.`),
		},
		nargs: 1, takes: "one argument, FILE",
		flags: func(fs *flag.FlagSet) {
			o.fs = fs
			o.register(fs, `write {"event":"fence_map",..} or {"event":"image_saved",..} to stdout`)
			fs.StringVar(&o.Track, "track", "", `NDJSON positions to draw, {"lat":47.6,"lon":-122.1} a line; - for stdin`)
			fs.StringVar(&o.PNG, "png", "", "fetch a static map image from Azure Maps Render into this PNG file instead of drawing")
			fs.StringVar(&o.PNGSize, "png-size", "800x600", "the image's size in pixels, WIDTHxHEIGHT, from 80x80 to 2000x1500")
			fs.IntVar(&o.Width, "width", 80, "columns to draw in, when set or when stdout is not a terminal")
			fs.IntVar(&o.Height, "height", 24, "lines to draw in, the scale bar's included, when set or when stdout is not a terminal")
		},
		run: func(ctx context.Context, args []string) error { return runGeofenceShow(ctx, stdio, o, args[0]) },
	})
}

func runGeofenceShow(ctx context.Context, stdio Stdio, o showOptions, file string) error {
	if file == "-" && o.Track == "-" {
		return usageError{errors.New("FILE and --track cannot both be standard input")}
	}
	var imgW, imgH int
	if o.PNG != "" {
		var err error
		if imgW, imgH, err = imageSize(o.PNGSize); err != nil {
			return err
		}
		if err := replaceableFile("--png", o.PNG); err != nil {
			return err
		}
	}
	_, fences, err := readFences("geofence file", file, stdio.In)
	if err != nil {
		return err
	}
	track, err := readTrack(stdio, o.Track)
	if err != nil {
		return err
	}
	// A valid file has a fence at least, so there is always something to
	// draw.
	scene := fencemap.Scene{Fences: fences, Track: track}
	if o.PNG != "" {
		return saveStaticImage(ctx, stdio, o, scene, imgW, imgH)
	}
	width, height, err := o.drawSize(stdio)
	if err != nil {
		return err
	}
	color := !o.JSON && stdio.OutTerminal && os.Getenv("NO_COLOR") == ""
	pic, err := fencemap.Draw(scene, fencemap.Options{Width: width, Height: height, Color: color})
	if err != nil {
		return fmt.Errorf("draw the fences: %w", err)
	}
	if o.JSON {
		writeEvent(stdio.Out, fenceMapEvent{Event: "fence_map", Fences: len(fences), Positions: len(track),
			Width: width, Height: height, MetresPerDot: pic.MetresPerDot, ScaleBarMetres: pic.ScaleMetres,
			Lines: pic.Lines, Unlabelled: pic.Unlabelled})
		return nil
	}
	w := bufio.NewWriter(stdio.Out)
	for _, line := range pic.Lines {
		w.WriteString(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write the picture: %w", err)
	}
	if len(pic.Unlabelled) > 0 {
		fmt.Fprintf(stdio.Err, "No room for the label of %s; a larger window has more.\n", strings.Join(pic.Unlabelled, ", "))
	}
	return nil
}

// drawSize is the picture's size: --width and --height when set, else
// the terminal's less a line for the prompt, else their defaults.
func (o showOptions) drawSize(stdio Stdio) (int, int, error) {
	width, height := o.Width, o.Height
	fromTerminal := false
	if f, ok := stdio.Out.(interface{ Fd() uintptr }); ok && stdio.OutTerminal {
		if cols, rows, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 && rows > 0 {
			if !isSet(o.fs, "width") {
				width, fromTerminal = cols, true
			}
			if !isSet(o.fs, "height") {
				height, fromTerminal = rows-1, true
			}
		}
	}
	if fromTerminal && (width < fencemap.MinWidth || height < fencemap.MinHeight) {
		return 0, 0, usageError{fmt.Errorf("the terminal is %d×%d; the picture takes at least %d×%d: enlarge the window, or set --width and --height",
			width, height+1, fencemap.MinWidth, fencemap.MinHeight+1)}
	}
	if err := firstError(intRange("width", int64(width), fencemap.MinWidth, 1000), intRange("height", int64(height), fencemap.MinHeight, 1000)); err != nil {
		return 0, 0, err
	}
	return width, height, nil
}

// readTrack reads positions, NDJSON as 'geofence check' reads them: a
// line that is not a position is an error that names it.
func readTrack(stdio Stdio, name string) ([]orb.Point, error) {
	if name == "" {
		return nil, nil
	}
	in := stdio.In
	if name == "-" && stdio.InTerminal {
		fmt.Fprintln(stdio.Err, `Reading positions from stdin, {"lat":47.6,"lon":-122.1} a line; Ctrl+D ends.`)
	}
	if name != "-" {
		f, _, err := openLocal("--track", name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	r := bufio.NewReaderSize(in, report.MaxLine)
	var track []orb.Point
	for n := 1; ; n++ {
		line, err := readLine(r)
		switch {
		case errors.Is(err, io.EOF):
			return track, nil
		case err == nil && len(bytes.TrimSpace(line)) == 0:
			continue
		case err == nil:
			q, _, perr := parsePosition(line, "", time.Time{})
			if perr == nil {
				track = append(track, orb.Point{q.Lon, q.Lat})
				continue
			}
			err = perr
		case !errors.Is(err, errLineTooLong):
			return nil, fmt.Errorf("read --track %s: %w", name, err)
		}
		return nil, &exitError{code: ExitData, errCode: "invalid_position", msg: fmt.Sprintf(
			"Line %d of --track %s is not a position: %v.", n, name, err)}
	}
}

// imageSize reads --png-size, WIDTHxHEIGHT.
func imageSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if !ok || errW != nil || errH != nil || w < fencemap.MinImageWidth || w > fencemap.MaxImageWidth || h < fencemap.MinImageHeight || h > fencemap.MaxImageHeight {
		return 0, 0, usageError{fmt.Errorf("--png-size %q: use WIDTHxHEIGHT in pixels, from %dx%d to %dx%d, like 800x600",
			s, fencemap.MinImageWidth, fencemap.MinImageHeight, fencemap.MaxImageWidth, fencemap.MaxImageHeight)}
	}
	return w, h, nil
}

// replaceableFile checks, before anything is fetched, that name may be
// written: a file or nothing yet, in a folder that exists; never a
// symbolic link, whose target another user may have chosen.
func replaceableFile(what, name string) error {
	fi, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if st, err := os.Stat(filepath.Dir(name)); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("%s %s: the folder %s does not exist", what, name, filepath.Dir(name))}
		}
		return nil
	case err != nil:
		return usageError{fmt.Errorf("%s: %w", what, err)}
	case fi.Mode()&fs.ModeSymlink != 0:
		return usageError{fmt.Errorf("%s %s is a symbolic link; it is not followed or replaced", what, name)}
	case fi.IsDir():
		return usageError{fmt.Errorf("%s %s is a folder, not a file", what, name)}
	case !fi.Mode().IsRegular():
		return usageError{fmt.Errorf("%s %s is not a regular file", what, name)}
	}
	return nil
}

// saveStaticImage fetches the scene from Render as a PNG and writes it.
func saveStaticImage(ctx context.Context, stdio Stdio, o showOptions, scene fencemap.Scene, width, height int) error {
	img, err := fencemap.StaticImage(scene, width, height)
	if errors.Is(err, fencemap.ErrTooDetailed) {
		return &exitError{code: ExitData, errCode: "too_large", msg: "The fences are too detailed for one static image request, even simplified. Draw them in the terminal instead."}
	}
	if err != nil {
		return fmt.Errorf("plan the image: %w", err)
	}
	q := img.Query
	q.Set("api-version", renderAPIVersion)
	q.Set("tilesetId", "microsoft.base.road")
	client, err := o.client(ctx, stdio, nil)
	if err != nil {
		return err
	}
	// Ask for the image, and for errors in JSON.
	resp, err := client.Send(ctx, azmaps.RawRequest{Method: http.MethodGet, URL: client.URL("/map/static", q),
		Header: http.Header{"Accept": {"image/png, application/json"}}})
	if err != nil {
		return needsRole(err, "Azure Maps Search and Render Data Reader")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxImageBytes+1))
	if err != nil {
		return fmt.Errorf("read the image: %w", err)
	}
	if len(data) > maxImageBytes {
		return fmt.Errorf("the image is over %d MB", maxImageBytes>>20)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("the Maps answer (%s) is not a PNG image: %w", resp.Header.Get("Content-Type"), err)
	}
	if err := atomicfile.Write(o.PNG, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.PNG, err)
	}
	if o.JSON {
		writeEvent(stdio.Out, imageSavedEvent{Event: "image_saved", Path: o.PNG, Width: cfg.Width, Height: cfg.Height, Bytes: len(data),
			Fences: len(scene.Fences), Rings: img.RingsTotal, RingsDrawn: img.Rings, Positions: len(scene.Track), PositionsDrawn: img.Pins,
			Tolerance: img.Tolerance})
		return nil
	}
	if img.Rings < img.RingsTotal {
		fmt.Fprintf(stdio.Err, "Drew the %d largest of %d rings: Render draws at most 10 paths an image. The terminal picture shows them all.\n", img.Rings, img.RingsTotal)
	}
	if img.Tolerance > 0.5 {
		fmt.Fprintf(stdio.Err, "Rings were simplified within %.1f pixels to fit Render's 100 points a path.\n", img.Tolerance)
	}
	if img.Pins < len(scene.Track) {
		fmt.Fprintf(stdio.Err, "Drew %d of %d positions, evenly spread, to fit the request.\n", img.Pins, len(scene.Track))
	}
	fmt.Fprintf(stdio.Out, "Saved a %d×%d map of %d fence(s) and %d position(s) to %s.\n", cfg.Width, cfg.Height, len(scene.Fences), len(scene.Track), o.PNG)
	return nil
}

// fenceMapEvent is geofence show's picture with --json.
type fenceMapEvent struct {
	Event          string   `json:"event"` // "fence_map"
	Fences         int      `json:"fences"`
	Positions      int      `json:"positions"`
	Width          int      `json:"width"`
	Height         int      `json:"height"`
	MetresPerDot   float64  `json:"metres_per_dot"`
	ScaleBarMetres float64  `json:"scale_bar_metres"`
	Lines          []string `json:"lines"`
	Unlabelled     []string `json:"unlabelled,omitempty"`
}

// imageSavedEvent is geofence show --png's result with --json.
type imageSavedEvent struct {
	Event          string  `json:"event"` // "image_saved"
	Path           string  `json:"path"`
	Width          int     `json:"width"`
	Height         int     `json:"height"`
	Bytes          int     `json:"bytes"`
	Fences         int     `json:"fences"`
	Rings          int     `json:"rings"`
	RingsDrawn     int     `json:"rings_drawn"`
	Positions      int     `json:"positions"`
	PositionsDrawn int     `json:"positions_drawn"`
	Tolerance      float64 `json:"tolerance_px"`
}
