package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report"
)

type checkOptions struct {
	mapsOptions
	UDID, File, DeviceID, Time, Mode string
	Lat, Lon, Z, SearchBuffer        float64
	Remote, All                      bool
	fs                               *flag.FlagSet // to tell which were set
}

func newGeofenceCheckCmd(stdio Stdio) *ffcli.Command {
	var o checkOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "check",
			ShortUsage: "mapsdevice geofence check --file F|--udid U [--lat LAT --lon LON] [flags]",
			ShortHelp:  "say where a position stands against fences",
			LongHelp: strings.TrimSpace(`
Say how far a position is from each fence: negative inside, positive
outside, and ±999 beyond --search-buffer (default 500 m, the most the
service allows).

With --file, the fences are checked here on the device, with no sign-in
and no network, through an index, so thousands of fences answer in
microseconds. Fences the position is more than --search-buffer outside
of are left out of the answer (the service listed each at 999); --all
lists them too, measuring every fence.

Without --lat and --lon, positions are read from stdin as NDJSON,
{"lat":47.6,"lon":-122.1} a line (with "time", RFC 3339, and "deviceId"
if wanted), and each is answered as it is read, a line each with --json.
A line that is not a position is reported with its number and the rest
are still answered; the exit code is then 65.

With --udid, or --file and --remote, the Spatial service answers instead
(a compatible endpoint: Microsoft retired the service); this needs the
sign-in and Maps settings. With --json the answer is in the service's
shape.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.fs = fs
			o.register(fs, "print each answer as the service's JSON, one a line")
			fs.StringVar(&o.File, "file", "", "a local GeoJSON file of fences, checked on the device")
			fs.StringVar(&o.UDID, "udid", "", "udid of fences uploaded to the service (GET)")
			fs.BoolVar(&o.Remote, "remote", false, "send --file to the Spatial service instead (POST)")
			fs.BoolVar(&o.All, "all", false, "on the device, also list fences beyond --search-buffer")
			fs.StringVar(&o.DeviceID, "device-id", "", "device id (default: the host name)")
			fs.Float64Var(&o.Lat, "lat", 0, "latitude of the position, -90 to 90")
			fs.Float64Var(&o.Lon, "lon", 0, "longitude of the position, -180 to 180")
			fs.Float64Var(&o.Z, "z", 0, "altitude in metres (accepted; fences are 2D)")
			fs.StringVar(&o.Time, "time", "", "when the device was there, RFC 3339 (default: now)")
			fs.Float64Var(&o.SearchBuffer, "search-buffer", 500, "metres from the border within which distances are exact (0 to 500)")
			fs.StringVar(&o.Mode, "mode", "", "All or EnterAndExit (the service only)")
		},
		run: func(ctx context.Context, _ []string) error { return runGeofenceCheck(ctx, stdio, o) },
	})
}

// local is whether the fences are checked on the device.
func (o checkOptions) local() bool { return o.UDID == "" && !o.Remote }

// check checks the flags before anything is read or sent.
func (o checkOptions) check() error {
	if (o.UDID == "") == (o.File == "") {
		return usageError{errors.New("give either --file (a local GeoJSON file) or --udid (fences uploaded to the service)")}
	}
	lat, lon := isSet(o.fs, "lat"), isSet(o.fs, "lon")
	switch {
	case lat != lon:
		return usageError{errors.New("give both --lat and --lon, or neither to read positions from stdin")}
	case !lat && !o.local():
		return usageError{errors.New("--lat and --lon are required with --udid or --remote")}
	case !lat && o.File == "-":
		return usageError{errors.New("--lat and --lon are required with --file -: stdin holds the fences")}
	case o.All && !o.local():
		return usageError{errors.New("--all is for fences checked on the device (--file); the service always lists every fence")}
	}
	if o.local() && o.Mode != "" && !strings.EqualFold(o.Mode, "All") {
		return usageError{fmt.Errorf("--mode %s is for the service (--udid or --remote); on the device every fence near the position is answered", o.Mode)}
	}
	return firstError(
		inRange("lat", o.Lat, -90, 90),
		inRange("lon", o.Lon, -180, 180),
		finite("z", o.Z),
		inRange("search-buffer", o.SearchBuffer, 0, 500),
	)
}

// deviceID is --device-id, or the host name.
func (o checkOptions) deviceID() string {
	if o.DeviceID != "" {
		return o.DeviceID
	}
	host, _ := os.Hostname()
	return host
}

// userTime is --time, or the zero time for "now".
func (o checkOptions) userTime() (time.Time, error) {
	if o.Time == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, o.Time)
	if err != nil {
		return t, usageError{fmt.Errorf("--time %q: use RFC 3339, like 2026-01-31T08:00:00Z", o.Time)}
	}
	return t, nil
}

func (o checkOptions) request() (azmaps.GeofenceRequest, error) {
	buffer := o.SearchBuffer
	req := azmaps.GeofenceRequest{DeviceID: o.deviceID(), UDID: o.UDID, Lat: o.Lat, Lon: o.Lon, SearchBuffer: &buffer, Mode: o.Mode}
	if isSet(o.fs, "z") {
		z := o.Z
		req.Z = &z
	}
	t, err := o.userTime()
	req.UserTime = t
	return req, err
}

func runGeofenceCheck(ctx context.Context, stdio Stdio, o checkOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.local() {
		return checkOnDevice(ctx, stdio, o)
	}
	req, err := o.request()
	if err != nil {
		return err
	}
	var body *azmaps.Body
	if o.File != "" {
		b, err := openGeoJSON("--file", o.File, stdio.In)
		if err != nil {
			return err
		}
		body = &b
	}
	client, err := o.client(ctx, stdio, nil)
	if err != nil {
		return err
	}
	res, err := client.Geofence(ctx, req, body)
	if err != nil {
		return needsRole(err, "Azure Maps Data Reader")
	}
	if o.JSON {
		stdio.Out.Write(append(res.Raw, '\n'))
		return nil
	}
	printCheck(stdio.Out, res.Result, o.SearchBuffer, "")
	return nil
}

// checkOnDevice evaluates the fences of --file here: the one position of
// --lat and --lon, or each position on stdin.
func checkOnDevice(ctx context.Context, stdio Stdio, o checkOptions) error {
	t, err := o.userTime()
	if err != nil {
		return err
	}
	_, fences, err := readFences("--file", o.File, stdio.In)
	if err != nil {
		return err
	}
	device := o.deviceID()
	ev := onDevice{all: o.All, fences: fences}
	if !o.All {
		ev.index = geofence.NewIndex(fences)
	}
	if isSet(o.fs, "lat") {
		q := geofence.Query{Lat: o.Lat, Lon: o.Lon, SearchBuffer: o.SearchBuffer, UserTime: t}
		if q.UserTime.IsZero() {
			q.UserTime = time.Now()
		}
		writeCheck(stdio.Out, ev.evaluate(q, device), o, "")
		return nil
	}
	return checkStream(ctx, stdio, o, ev, device, t)
}

// onDevice answers positions against local fences: through the index,
// or, with --all, by measuring every fence as the service did.
type onDevice struct {
	all    bool
	fences []geofence.Fence
	index  *geofence.Index
}

// evaluate answers one position, naming the device in each answer as the
// service does.
func (ev onDevice) evaluate(q geofence.Query, device string) geofence.Result {
	var res geofence.Result
	if ev.all {
		res = geofence.Evaluate(ev.fences, q)
	} else {
		res = ev.index.Evaluate(q)
	}
	for i := range res.Geometries {
		res.Geometries[i].DeviceID = device
	}
	return res
}

// position is one NDJSON line of checkStream's input.
type position struct {
	Lat      *float64 `json:"lat"`
	Lon      *float64 `json:"lon"`
	Time     string   `json:"time"`
	DeviceID string   `json:"deviceId"`
}

// badPositionEvent is a line of checkStream's input that is not a position.
type badPositionEvent struct {
	Event   string `json:"event"` // "bad_position"
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// checkStream answers each position on stdin as it is read, in order. A
// bad line is reported and skipped; at the end, any bad line makes the
// command fail with invalid input.
func checkStream(ctx context.Context, stdio Stdio, o checkOptions, ev onDevice, device string, t time.Time) error {
	in, err := report.Interruptible(stdio.In)
	if err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	defer in.Close()
	stop := context.AfterFunc(ctx, func() { in.Close() })
	defer stop()
	if stdio.InTerminal {
		fmt.Fprintln(stdio.Err, `Reading positions from stdin, {"lat":47.6,"lon":-122.1} a line; Ctrl+D ends.`)
	}

	r := bufio.NewReaderSize(in, report.MaxLine)
	w := bufio.NewWriter(stdio.Out)
	defer w.Flush()
	n, positions, bad, firstBad := 0, 0, 0, 0 // n counts lines, blank ones too
	for {
		line, err := readLine(r)
		if err != nil && !errors.Is(err, errLineTooLong) {
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read positions from stdin: %w", err)
		}
		n++
		if err == nil && len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines are not positions
		}
		positions++
		var q geofence.Query
		dev := device
		if err == nil {
			q, dev, err = parsePosition(line, device, t)
		}
		if err != nil {
			bad++
			if firstBad == 0 {
				firstBad = n
			}
			fmt.Fprintf(stdio.Err, "line %d: %v\n", n, err)
			if o.JSON {
				writeEvent(w, badPositionEvent{Event: "bad_position", Line: n, Message: err.Error()})
			}
		} else {
			q.SearchBuffer = o.SearchBuffer
			writeCheck(w, ev.evaluate(q, dev), o, fmt.Sprintf("line %d: %s, %s", n, number(q.Lat), number(q.Lon)))
		}
		if r.Buffered() == 0 { // the next read may wait: show what is answered
			if err := w.Flush(); err != nil {
				return fmt.Errorf("write answers: %w", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write answers: %w", err)
	}
	if bad > 0 {
		return &exitError{code: ExitData, errCode: "invalid_position", msg: fmt.Sprintf(
			"%d of %d line(s) on stdin were not positions (the first is line %d); the others were answered.", bad, positions, firstBad)}
	}
	return nil
}

// errLineTooLong is a line of input longer than report.MaxLine.
var errLineTooLong = fmt.Errorf("the line is over %d KB", report.MaxLine>>10)

// readLine reads one line without its end. A line too long is read to its
// end and dropped, with errLineTooLong; the last line may lack an end.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = errLineTooLong
		}
		return nil, err
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		err = nil
	}
	return bytes.TrimRight(line, "\r\n"), err
}

// parsePosition reads one line of positions: lat and lon in range, and
// time and deviceId when given.
func parsePosition(line []byte, device string, t time.Time) (geofence.Query, string, error) {
	var p position
	if err := json.Unmarshal(line, &p); err != nil {
		return geofence.Query{}, "", fmt.Errorf("not a JSON object like {\"lat\":47.6,\"lon\":-122.1}: %w", err)
	}
	if p.Lat == nil || p.Lon == nil {
		return geofence.Query{}, "", errors.New(`"lat" and "lon" are required`)
	}
	if *p.Lat < -90 || *p.Lat > 90 {
		return geofence.Query{}, "", fmt.Errorf(`"lat" %s: use a number from -90 to 90`, number(*p.Lat))
	}
	if *p.Lon < -180 || *p.Lon > 180 {
		return geofence.Query{}, "", fmt.Errorf(`"lon" %s: use a number from -180 to 180`, number(*p.Lon))
	}
	q := geofence.Query{Lat: *p.Lat, Lon: *p.Lon, UserTime: t}
	if p.Time != "" {
		ts, err := time.Parse(time.RFC3339, p.Time)
		if err != nil {
			return q, "", fmt.Errorf(`"time" %q: use RFC 3339, like 2026-01-31T08:00:00Z`, p.Time)
		}
		q.UserTime = ts
	}
	if q.UserTime.IsZero() {
		q.UserTime = time.Now()
	}
	if p.DeviceID != "" {
		device = p.DeviceID
	}
	return q, device, nil
}

// writeCheck writes one answer: the service's JSON shape with --json, else
// printCheck's lines under a heading when there are several positions.
func writeCheck(w io.Writer, res geofence.Result, o checkOptions, heading string) {
	if o.JSON {
		writeEvent(w, res)
		return
	}
	if heading != "" {
		fmt.Fprintln(w, heading)
		heading = "  "
	}
	printCheck(w, res, o.SearchBuffer, heading)
}

// printCheck prints each fence with its distance, then the fences
// expired or out of their validity periods; indent starts each line.
func printCheck(w io.Writer, res geofence.Result, buffer float64, indent string) {
	if len(res.Geometries)+len(res.ExpiredGeofenceGeometryID)+len(res.InvalidPeriodGeofenceGeometryID) == 0 {
		fmt.Fprintf(w, "%sno fence within %.0f m\n", indent, buffer)
	}
	for _, g := range res.Geometries {
		where := "outside"
		if geofence.Inside(g.Distance) {
			where = "inside"
		}
		dist := fmt.Sprintf("%.1f m", g.Distance)
		if math.Abs(g.Distance) == geofence.Far {
			dist = fmt.Sprintf("more than %.0f m", buffer)
		}
		fmt.Fprintf(w, "%s%-12s %-7s %s from the border (nearest point %.6f, %.6f)\n", indent, g.GeometryID, where, dist, g.NearestLat, g.NearestLon)
	}
	for _, id := range res.ExpiredGeofenceGeometryID {
		fmt.Fprintf(w, "%s%-12s expired\n", indent, id)
	}
	for _, id := range res.InvalidPeriodGeofenceGeometryID {
		fmt.Fprintf(w, "%s%-12s not valid at this time\n", indent, id)
	}
}
