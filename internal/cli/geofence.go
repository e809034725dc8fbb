package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

func newGeofenceCmd(stdio Stdio) *ffcli.Command {
	fs := newFlagSet("geofence", stdio)
	return &ffcli.Command{
		Name:       "geofence",
		ShortUsage: "mapsdevice geofence <command> [flags]",
		ShortHelp:  "validate, upload and check GeoJSON geofences in Azure Maps",
		LongHelp: strings.TrimSpace(`
Work with GeoJSON geofences in Azure Maps: the Data v2 service keeps them,
the Spatial service checks a position against them.

Microsoft retired the Data and Spatial services (Data on 2024-09-16,
Spatial on 2025-09-30). Point --maps-endpoint (MAPSDEVICE_MAPS_ENDPOINT)
at a compatible endpoint, such as 'mapsdevice emulator'.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Subcommands: []*ffcli.Command{
			newGeofenceValidateCmd(stdio),
			newGeofenceUploadCmd(stdio, false),
			newGeofenceUploadCmd(stdio, true),
			newGeofenceListCmd(stdio),
			newGeofenceGetCmd(stdio),
			newGeofenceDeleteCmd(stdio),
			newGeofenceCheckCmd(stdio),
		},
		Exec: groupExec("geofence command"),
	}
}

// mapsCommand builds a subcommand with the Maps flags, its own flags
// (register may be nil) and nargs positional arguments.
func mapsCommand(stdio Stdio, m *mapsSettings, c ffcli.Command, nargs int, register func(*flag.FlagSet), run func(ctx context.Context, args []string) error) *ffcli.Command {
	fs := newFlagSet(c.Name, stdio)
	m.registerMaps(fs)
	if register != nil {
		register(fs)
	}
	c.FlagSet, c.UsageFunc, c.Options = fs, usage, parseOptions()
	c.Exec = func(ctx context.Context, args []string) error {
		pos, err := interspersed(fs, args)
		if err == nil && len(pos) != nargs {
			err = usageError{fmt.Errorf("%s takes %d argument(s), got %d; see --help", c.Name, nargs, len(pos))}
		}
		if err == nil {
			err = run(ctx, pos)
		}
		return finish(stdio, m.settings, m.JSON, err)
	}
	return &c
}

// openGeoJSON opens a file (or - for stdin) as a request body, refusing
// one over the service's limit before reading it.
func openGeoJSON(name string, stdin io.Reader) (azmaps.Body, error) {
	if name == "-" {
		used := false
		return azmaps.Body{Size: -1, Open: func() (io.ReadCloser, error) {
			if used {
				return nil, errors.New("standard input cannot be sent twice")
			}
			used = true
			return io.NopCloser(stdin), nil
		}}, nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return azmaps.Body{}, usageError{fmt.Errorf("geofence file: %w", err)}
	}
	if st.Size() > geofence.MaxUploadSize {
		return azmaps.Body{}, &exitError{code: ExitData, errCode: "too_large", msg: fmt.Sprintf(
			"%s is %d MB; Azure Maps takes at most 100 MB per upload. Split the fences into several files.", name, st.Size()>>20)}
	}
	return azmaps.Body{Size: st.Size(), Open: func() (io.ReadCloser, error) { return os.Open(name) }}, nil
}

func newGeofenceValidateCmd(stdio Stdio) *ffcli.Command {
	var m mapsSettings
	return mapsCommand(stdio, &m, ffcli.Command{
		Name:       "validate",
		ShortUsage: "mapsdevice geofence validate FILE",
		ShortHelp:  "check a GeoJSON geofence file and list every problem",
		LongHelp: strings.TrimSpace(`
Check a geofence file (or - for standard input) against the Azure Maps
rules: geometryId present and unique, radius where needed (1 to 10000 m)
and not on polygons, circles as a Point with subType Circle, closed rings,
coordinates in range and a well-formed validityTime. Every problem is
listed with where it is and what to fix. Exit 65 when there are problems.`),
	}, 1, nil, func(ctx context.Context, args []string) error {
		body, err := openGeoJSON(args[0], stdio.In)
		if err != nil {
			return err
		}
		rc, err := body.Open()
		if err != nil {
			return fmt.Errorf("open %s: %w", args[0], err)
		}
		defer rc.Close()
		fences, err := geofence.Parse(rc)
		var inv *geofence.InvalidError
		switch {
		case errors.As(err, &inv):
			if m.JSON {
				writeEvent(stdio.Out, map[string]any{"valid": false, "problems": inv.Problems})
			} else {
				fmt.Fprintf(stdio.Out, "%s has %d problem(s):\n", args[0], len(inv.Problems))
				for _, p := range inv.Problems {
					fmt.Fprintf(stdio.Out, "  - %s\n", p)
				}
			}
			return &exitError{code: ExitData, errCode: "invalid_geojson", msg: "invalid", printed: true}
		case errors.Is(err, geofence.ErrTooLarge):
			return &exitError{code: ExitData, errCode: "too_large", msg: "The GeoJSON is larger than the 100 MB Azure Maps takes per upload."}
		case err != nil:
			return err
		}
		if m.JSON {
			writeEvent(stdio.Out, map[string]any{"valid": true, "fences": len(fences)})
			return nil
		}
		fmt.Fprintf(stdio.Out, "%s is a valid geofence file with %d fence(s).\n", args[0], len(fences))
		return nil
	})
}

func newGeofenceUploadCmd(stdio Stdio, update bool) *ffcli.Command {
	var m mapsSettings
	var description string
	var noWait bool
	register := func(fs *flag.FlagSet) {
		fs.StringVar(&description, "description", "", "a description kept with the data")
		fs.BoolVar(&noWait, "no-wait", false, "print the operation id and return without waiting for the udid")
	}
	c := ffcli.Command{
		Name:       "upload",
		ShortUsage: "mapsdevice geofence upload FILE [flags]",
		ShortHelp:  "upload a geofence file; prints its udid",
		LongHelp: strings.TrimSpace(`
Upload a GeoJSON geofence file (or - for standard input) to the Data v2
service, wait for the service to accept it, and print its udid, which
'geofence check --udid' takes. With --json: {"udid","operationId","status"}.`),
	}
	nargs := 1
	if update {
		c.Name, c.ShortUsage, c.ShortHelp = "update", "mapsdevice geofence update UDID FILE [flags]", "replace the content of uploaded fences"
		c.LongHelp = "Replace the fences stored under UDID with a new GeoJSON file (or - for\nstandard input); the udid stays the same."
		nargs = 2
	}
	return mapsCommand(stdio, &m, c, nargs, register, func(ctx context.Context, args []string) error {
		file, udid := args[0], ""
		if update {
			udid, file = args[0], args[1]
		}
		body, err := openGeoJSON(file, stdio.In)
		if err != nil {
			return err
		}
		p := newProgress(stdio, m.JSON)
		client, err := m.mapsClient(ctx, stdio, p.report)
		if err != nil {
			return err
		}
		var op azmaps.Operation
		if update {
			op, err = client.Update(ctx, udid, body, description)
		} else {
			op, err = client.Upload(ctx, body, description)
		}
		if err != nil {
			return needsRole(err, "Azure Maps Data Contributor")
		}
		status := "NotStarted"
		if !noWait {
			udid, err = client.Wait(ctx, op)
			p.done()
			if err != nil {
				return err
			}
			status = "Succeeded"
		}
		if m.JSON {
			out := map[string]any{"operationId": op.ID, "status": status}
			if udid != "" {
				out["udid"] = udid
			}
			writeEvent(stdio.Out, out)
			return nil
		}
		if noWait {
			fmt.Fprintf(stdio.Out, "Accepted as operation %s; it goes on at Azure Maps.\n", op.ID)
			return nil
		}
		fmt.Fprintln(stdio.Out, udid)
		return nil
	})
}

// progress shows an upload and the wait that follows: updated in place on
// a terminal, a line per stage otherwise, nothing with --json.
type progress struct {
	w      io.Writer
	tty    bool
	quiet  bool
	stage  string
	inline bool
}

func newProgress(stdio Stdio, quiet bool) *progress {
	f, ok := stdio.Err.(*os.File)
	return &progress{w: stdio.Err, tty: ok && term.IsTerminal(int(f.Fd())), quiet: quiet}
}

func (p *progress) report(e azmaps.Progress) {
	if p.quiet {
		return
	}
	var line string
	switch e.Stage {
	case "upload":
		line = "Uploading " + bytesText(e.Sent)
		if e.Size > 0 {
			line += fmt.Sprintf(" of %s (%d%%)", bytesText(e.Size), e.Sent*100/e.Size)
		}
	case "operation":
		line = "Azure Maps is processing the upload: " + e.Status
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.inline = true
		return
	}
	if e.Stage != p.stage || e.Stage == "operation" {
		fmt.Fprintln(p.w, line)
	}
	p.stage = e.Stage
}

func (p *progress) done() {
	if p.inline {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.inline = false
	}
}

// roleError names the Azure Maps role a refused call needed.
type roleError struct {
	role string
	err  *azmaps.APIError
}

func (e *roleError) Error() string { return e.err.Error() }
func (e *roleError) Unwrap() error { return e.err }

func needsRole(err error, role string) error {
	var ae *azmaps.APIError
	if errors.As(err, &ae) && ae.Status == 403 {
		return &roleError{role: role, err: ae}
	}
	return err
}

func newGeofenceListCmd(stdio Stdio) *ffcli.Command {
	var m mapsSettings
	return mapsCommand(stdio, &m, ffcli.Command{
		Name: "list", ShortUsage: "mapsdevice geofence list [flags]", ShortHelp: "list uploaded map data",
		LongHelp: "List the map data of the Maps account: udid, status, size, when and description.",
	}, 0, nil, func(ctx context.Context, _ []string) error {
		client, err := m.mapsClient(ctx, stdio, nil)
		if err != nil {
			return err
		}
		list, err := client.List(ctx)
		if err != nil {
			return needsRole(err, "Azure Maps Data Reader")
		}
		if m.JSON {
			writeEvent(stdio.Out, map[string]any{"mapDataList": list})
			return nil
		}
		if len(list) == 0 {
			fmt.Fprintln(stdio.Out, "No map data yet. Upload some with 'mapsdevice geofence upload FILE'.")
			return nil
		}
		for _, d := range list {
			fmt.Fprintf(stdio.Out, "%s  %-9s  %9d B  %s  %s\n", d.UDID, d.UploadStatus, d.SizeInBytes, d.Created, d.Description)
		}
		return nil
	})
}

func newGeofenceGetCmd(stdio Stdio) *ffcli.Command {
	var m mapsSettings
	return mapsCommand(stdio, &m, ffcli.Command{
		Name: "get", ShortUsage: "mapsdevice geofence get UDID [flags]", ShortHelp: "download uploaded fences to stdout",
		LongHelp: "Download the GeoJSON stored under UDID to standard output.",
	}, 1, nil, func(ctx context.Context, args []string) error {
		client, err := m.mapsClient(ctx, stdio, nil)
		if err != nil {
			return err
		}
		_, err = client.Download(ctx, args[0], stdio.Out)
		return needsRole(err, "Azure Maps Data Reader")
	})
}

func newGeofenceDeleteCmd(stdio Stdio) *ffcli.Command {
	var m mapsSettings
	return mapsCommand(stdio, &m, ffcli.Command{
		Name: "delete", ShortUsage: "mapsdevice geofence delete UDID [flags]", ShortHelp: "delete uploaded fences",
		LongHelp: "Delete the map data stored under UDID.",
	}, 1, nil, func(ctx context.Context, args []string) error {
		client, err := m.mapsClient(ctx, stdio, nil)
		if err != nil {
			return err
		}
		if err := client.Delete(ctx, args[0]); err != nil {
			return needsRole(err, "Azure Maps Data Contributor")
		}
		if m.JSON {
			writeEvent(stdio.Out, map[string]any{"deleted": args[0]})
		} else {
			fmt.Fprintf(stdio.Out, "Deleted %s.\n", args[0])
		}
		return nil
	})
}

func newGeofenceCheckCmd(stdio Stdio) *ffcli.Command {
	var m mapsSettings
	var udid, device, file, at, mode string
	var lat, lon, z, buffer float64
	var fs *flag.FlagSet
	register := func(f *flag.FlagSet) {
		fs = f
		fs.StringVar(&udid, "udid", "", "udid of uploaded fences (GET)")
		fs.StringVar(&file, "file", "", "a local GeoJSON file of fences, sent with the request (POST)")
		fs.StringVar(&device, "device-id", "", "device id (default: the host name)")
		fs.Float64Var(&lat, "lat", 0, "latitude of the position")
		fs.Float64Var(&lon, "lon", 0, "longitude of the position")
		fs.Float64Var(&z, "z", 0, "altitude in metres (accepted; fences are 2D)")
		fs.StringVar(&at, "time", "", "when the device was there, RFC 3339 (default: now)")
		fs.Float64Var(&buffer, "search-buffer", 500, "metres from the border within which distances are exact (0 to 500)")
		fs.StringVar(&mode, "mode", "", "All or EnterAndExit")
	}
	return mapsCommand(stdio, &m, ffcli.Command{
		Name:       "check",
		ShortUsage: "mapsdevice geofence check (--udid U | --file F) --lat LAT --lon LON [flags]",
		ShortHelp:  "say where a position stands against fences",
		LongHelp: strings.TrimSpace(`
Ask the Spatial service how far a position is from each fence: negative
inside, positive outside, and ±999 beyond --search-buffer. --search-buffer
defaults to 500 m, the most the service allows, so distances are exact as
far as possible. With --json the service's answer is printed unchanged.`),
	}, 0, register, func(ctx context.Context, _ []string) error {
		if (udid == "") == (file == "") {
			return usageError{errors.New("give either --udid (uploaded fences) or --file (a local GeoJSON file)")}
		}
		if !isSet(fs, "lat") || !isSet(fs, "lon") {
			return usageError{errors.New("--lat and --lon are required")}
		}
		req := azmaps.GeofenceRequest{DeviceID: device, UDID: udid, Lat: lat, Lon: lon, SearchBuffer: &buffer, Mode: mode}
		if req.DeviceID == "" {
			req.DeviceID, _ = os.Hostname()
		}
		if isSet(fs, "z") {
			req.Z = &z
		}
		if at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return usageError{fmt.Errorf("--time %q: use RFC 3339, like 2026-01-31T08:00:00Z", at)}
			}
			req.UserTime = t
		}
		var body *azmaps.Body
		if file != "" {
			b, err := openGeoJSON(file, stdio.In)
			if err != nil {
				return err
			}
			body = &b
		}
		client, err := m.mapsClient(ctx, stdio, nil)
		if err != nil {
			return err
		}
		res, err := client.Geofence(ctx, req, body)
		if err != nil {
			return needsRole(err, "Azure Maps Data Reader")
		}
		if m.JSON {
			stdio.Out.Write(append(res.Raw, '\n'))
			return nil
		}
		for _, g := range res.Geometries {
			where := "outside"
			if g.Distance < 0 {
				where = "inside"
			}
			dist := fmt.Sprintf("%.1f m", g.Distance)
			if g.Distance == geofence.Far || g.Distance == -geofence.Far {
				dist = fmt.Sprintf("more than %.0f m", buffer)
			}
			fmt.Fprintf(stdio.Out, "%-12s %-7s %s from the border (nearest point %.6f, %.6f)\n", g.GeometryID, where, dist, g.NearestLat, g.NearestLon)
		}
		for _, id := range res.ExpiredGeofenceGeometryID {
			fmt.Fprintf(stdio.Out, "%-12s expired\n", id)
		}
		for _, id := range res.InvalidPeriodGeofenceGeometryID {
			fmt.Fprintf(stdio.Out, "%-12s not valid at this time\n", id)
		}
		return nil
	})
}

// isSet reports whether a flag came from the command line or the
// environment (MAPSDEVICE_LAT and so on).
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func bytesText(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
