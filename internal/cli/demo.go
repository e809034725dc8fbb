package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
	"github.com/mapsdevice/mapsdevice/internal/sink"
	"github.com/mapsdevice/mapsdevice/internal/sink/azurite"
)

type demoOptions struct {
	Manual       bool
	ApproveAfter time.Duration
	JSON         bool
	Plain        bool
}

func newDemoCmd(stdio Stdio) *ffcli.Command {
	var o demoOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "demo",
			ShortUsage: "mapsdevice demo [flags]",
			ShortHelp:  "run the whole product against the built-in emulator",
			LongHelp: strings.TrimSpace(`
Start the emulator in this process on a free loopback port with a throwaway
state folder, sign in with a device code that approves itself after a few
seconds (or, with --manual, that you approve in a browser), then get a token
silently the way a device does afterwards. Nothing is kept.`),
		},
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&o.Manual, "manual", false, "approve in a browser yourself instead of automatically")
			fs.DurationVar(&o.ApproveAfter, "approve-after", 3*time.Second, "delay before the demo approves its own code")
			registerJSON(fs, &o.JSON, "write login events as NDJSON to stdout")
			fs.BoolVar(&o.Plain, "plain", false, "plain text instead of the full-screen code, even on a terminal")
		},
		run: func(ctx context.Context, _ []string) error { return runDemo(ctx, stdio, o) },
	})
}

func runDemo(ctx context.Context, stdio Stdio, o demoOptions) error {
	if err := positive("approve-after", o.ApproveAfter); err != nil && !o.Manual {
		return err
	}
	opts := emulator.Options{Interval: time.Second}
	if !o.Manual {
		opts.AutoApprove = o.ApproveAfter
	}
	srv, err := emulator.New(opts)
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	defer srv.Close()
	s := settings{
		Authority:  srv.Authority(),
		ClientID:   srv.ClientID(),
		Scope:      emulator.MapsScope,
		TokenStore: "memory",
		CAFile:     srv.CAFile(),
		Profile:    "demo",
	}
	fmt.Fprintf(stdio.Err, "Demo: a local Entra ID emulator is running at %s.\n", srv.URL())
	if o.Manual {
		fmt.Fprintf(stdio.Err, "Open the page below in a browser (accept its self-signed certificate), enter the code and approve.\n\n")
	} else {
		fmt.Fprintf(stdio.Err, "The demo approves the code by itself after %s, as a person on a phone would.\n\n", o.ApproveAfter)
	}
	si, err := s.open(ctx)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("Demo: this code approves itself in %s.", o.ApproveAfter)
	if o.Manual {
		note = "Demo: approve in a browser at " + srv.URL() + "/devicelogin."
	}
	x := &signIn{stdio: stdio, command: "mapsdevice demo", s: s, si: si, screen: screenOptions{JSON: o.JSON, Plain: o.Plain, Note: note}}
	res, err := x.run(ctx)
	if err != nil {
		return err
	}
	again, err := si.client.Token(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		writeSignedIn(stdio, res, si)
		return nil
	}
	fmt.Fprintf(stdio.Out, "\nSigned in as %s (%s),\ntenant %s.\n", res.Account.Username, res.Account.Name, res.Account.TenantID)
	fmt.Fprintf(stdio.Out, "Azure Maps access token for the scope\n%s, valid until %s.\n",
		s.Scope, again.ExpiresOn.Local().Format("15:04:05 MST"))
	fmt.Fprintf(stdio.Out, "A second token request was served from the cache: %v.\n", again.FromCache)
	client, err := newMapsClient(azmaps.Config{Endpoint: srv.MapsEndpoint(), ClientID: srv.MapsClientID(), Tokens: mapsTokens{si.client}}, srv.CAFile())
	if err != nil {
		return err
	}
	if err := demoGeofence(ctx, stdio, client); err != nil {
		return err
	}
	if err := demoLiveAPIs(ctx, stdio, client); err != nil {
		return err
	}
	if err := demoReport(ctx, stdio, client, srv.CAFile(), si.client); err != nil {
		return err
	}
	fmt.Fprintln(stdio.Out, "\nNext: run 'mapsdevice emulator' in one shell and 'mapsdevice login' in another\n(see the README).")
	return nil
}

// demoFence is the device code guide's 500 m circle plus a polygon.
const demoFence = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500,"subType":"Circle"}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.14,47.63],[-122.12,47.63],[-122.12,47.65],[-122.14,47.65],[-122.14,47.63]]]},"properties":{"geometryId":"campus"}}]}`

// demoLiveAPIs calls two of today's Azure Maps APIs the way 'mapsdevice
// api' does: geocoding (Search 2026-01-01) and a route (Route 2025-01-01,
// POST). The emulator's answers are canned.
func demoLiveAPIs(ctx context.Context, stdio Stdio, client *azmaps.Client) error {
	fmt.Fprintln(stdio.Out, "\nCalling Azure Maps APIs that are live today, as 'mapsdevice api' does:")
	var place struct {
		Features []struct {
			Geometry struct {
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	q := url.Values{"api-version": {"2026-01-01"}, "query": {"1 Microsoft Way, Redmond"}}
	if err := demoCall(ctx, client, azmaps.RawRequest{Method: http.MethodGet, URL: client.URL("/geocode", q)}, &place); err != nil {
		return err
	}
	if len(place.Features) == 0 || len(place.Features[0].Geometry.Coordinates) < 2 {
		return errors.New("geocoding found no place")
	}
	c := place.Features[0].Geometry.Coordinates
	fmt.Fprintf(stdio.Out, "  geocoding '1 Microsoft Way, Redmond': %.6f, %.6f\n", c[1], c[0])
	body := fmt.Sprintf(`{"type":"FeatureCollection","travelMode":"driving","features":[
 {"type":"Feature","properties":{"pointIndex":0,"pointType":"waypoint"},"geometry":{"type":"Point","coordinates":[%f,%f]}},
 {"type":"Feature","properties":{"pointIndex":1,"pointType":"waypoint"},"geometry":{"type":"Point","coordinates":[-122.349309,47.620422]}}]}`, c[0], c[1])
	var route struct {
		Features []struct {
			Properties struct {
				Type             string  `json:"type"`
				DistanceInMeters float64 `json:"distanceInMeters"`
				DurationInSecs   float64 `json:"durationInSeconds"`
			} `json:"properties"`
		} `json:"features"`
	}
	b := azmaps.BytesBody([]byte(body))
	req := azmaps.RawRequest{Method: http.MethodPost, URL: client.URL("/route/directions", url.Values{"api-version": {"2025-01-01"}}), Body: &b}
	if err := demoCall(ctx, client, req, &route); err != nil {
		return err
	}
	for _, f := range route.Features {
		if f.Properties.Type == "RoutePath" {
			fmt.Fprintf(stdio.Out, "  a route from there to the Space Needle: %.1f km, %.0f minutes\n",
				f.Properties.DistanceInMeters/1000, f.Properties.DurationInSecs/60)
		}
	}
	return nil
}

// demoCall sends a request and decodes its JSON answer.
func demoCall(ctx context.Context, client *azmaps.Client, req azmaps.RawRequest, v any) error {
	resp, err := client.Send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("read the answer of %s: %w", req.URL.Path, err)
	}
	return nil
}

// demoGeofence uploads the sample fence with the signed-in account's
// token and checks a few points against it.
func demoGeofence(ctx context.Context, stdio Stdio, client *azmaps.Client) error {
	fmt.Fprintln(stdio.Out, "\nUploading the guide's sample geofence (a 500 m circle and a polygon)\nto Azure Maps Data v2...")
	op, err := client.Upload(ctx, azmaps.BytesBody([]byte(demoFence)), "mapsdevice demo")
	if err != nil {
		return err
	}
	udid, err := client.Wait(ctx, op)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "Stored as udid %s.\nChecking positions with the Spatial geofence API:\n", udid)
	buffer := 500.0
	for _, p := range []struct {
		name     string
		lat, lon float64
	}{
		{"the circle's centre", 47.639754, -122.126986},
		{"1 km east of it", 47.639754, -122.113663},
		{"3 km south", 47.612776, -122.126986},
	} {
		res, err := client.Geofence(ctx, azmaps.GeofenceRequest{DeviceID: "demo-device", UDID: udid, Lat: p.lat, Lon: p.lon, SearchBuffer: &buffer}, nil)
		if err != nil {
			return err
		}
		var parts []string
		for _, g := range res.Geometries {
			switch {
			case g.Distance == -geofence.Far:
				parts = append(parts, g.GeometryID+" inside (over 500 m in)")
			case g.Distance == geofence.Far:
				parts = append(parts, g.GeometryID+" outside (over 500 m out)")
			case g.Distance < 0:
				parts = append(parts, fmt.Sprintf("%s inside (%.0f m)", g.GeometryID, g.Distance))
			default:
				parts = append(parts, fmt.Sprintf("%s outside (+%.0f m)", g.GeometryID, g.Distance))
			}
		}
		fmt.Fprintf(stdio.Out, "  %-20s %s\n", p.name+":", strings.Join(parts, ", "))
	}
	return nil
}

// demoReport runs the sensor node on a simulated truck for a few seconds:
// readings through the spool to Azure Maps, events from the local fences.
func demoReport(ctx context.Context, stdio Stdio, client *azmaps.Client, caFile string, person auth.Credential) error {
	dir, err := os.MkdirTemp("", "mapsdevice-demo-report-")
	if err != nil {
		return fmt.Errorf("demo state folder: %w", err)
	}
	defer os.RemoveAll(dir)
	fences, err := geofence.ParseBytes([]byte(demoFence))
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	blob, stop := demoBlobSink(ctx, stdio, dir, caFile, person, quiet)
	defer stop()
	var dest report.Sink = report.NewMapsData(client, quiet)
	where := "Azure Maps"
	if blob != nil {
		dest, where = blob, "the Azurite container"
	}
	const readings = 400
	fmt.Fprintf(stdio.Out, "\nA simulated truck drives through the fences and reports %d readings\n('mapsdevice report --simulate'):\n", readings)
	r, err := report.New(report.Options{StateDir: filepath.Join(dir, "report"), DeviceID: "demo-truck", BatchSize: 100, MaxDelay: 500 * time.Millisecond,
		SpoolMax: 10_000, SpoolFull: spool.DropOldest}, dest, report.NewLocalFences(fences), eventPrinter{stdio.Out},
		quiet)
	if err != nil {
		return err
	}
	defer r.Close()
	truck, stopTruck := simulated(ctx, "demo-truck", 200, readings)
	err = r.Run(ctx, truck)
	stopTruck()
	if err != nil {
		return err
	}
	st, err := report.ReadStatus(filepath.Join(dir, "report"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "All %d readings went through the spool on disk to %s:\n%d delivered, %d still spooled.\n", st.Accepted, where, st.Delivered, st.Depth)
	if blob == nil {
		return nil
	}
	stored, err := blob.List(ctx, "demo-truck/")
	if err != nil {
		return fmt.Errorf("list the demo's blobs: %w", err)
	}
	fmt.Fprintf(stdio.Out, "The container holds %d blobs, one a batch, named\n{deviceId}/{yyyy}/{MM}/{dd}/{HH}/{batchId}.json:\n", len(stored))
	for i, b := range stored {
		if i == 3 && len(stored) > 4 {
			fmt.Fprintf(stdio.Out, "  ... and %d more\n", len(stored)-3)
			break
		}
		fmt.Fprintf(stdio.Out, "  %s (%d bytes)\n", b.Name, b.Size)
	}
	return nil
}

// demoBlobSink starts Azurite, Microsoft's Storage emulator, when it is
// installed, and makes a blob sink for its container "readings" with the
// demo's sign-in. Without it, it says how to get it and returns nil: the
// readings go to the emulator's Maps Data store instead.
func demoBlobSink(ctx context.Context, stdio Stdio, dir, caFile string, person auth.Credential, log *slog.Logger) (*sink.Blob, func()) {
	nothing := func() {}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	az, err := azurite.Start(startCtx, dir)
	switch {
	case errors.Is(err, azurite.ErrNotInstalled):
		fmt.Fprintf(stdio.Out, "\nAzurite, Microsoft's Storage emulator, is not installed, so the readings go\n"+
			"to the emulator's Azure Maps Data store. To watch them land in Blob Storage,\n"+
			"as they would in your storage account, install it (with Node.js):\n"+
			"  npm install -g azurite@%s\nthen run the demo again.\n", azurite.Version)
		return nil, nothing
	case err != nil:
		fmt.Fprintf(stdio.Out, "\nAzurite did not start (%v),\nso the readings go to the emulator's Azure Maps Data store.\n", err)
		return nil, nothing
	}
	stop := func() { az.Close() }
	fail := func(err error) (*sink.Blob, func()) {
		fmt.Fprintf(stdio.Out, "\nAzurite started, but the demo could not use it (%v);\nthe readings go to the emulator's Azure Maps Data store.\n", err)
		stop()
		return nil, nothing
	}
	// One CA file for the sign-in emulator and Azurite: each made its own.
	var bundle []byte
	for _, f := range []string{caFile, az.CAFile} {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fail(err)
		}
		bundle = append(bundle, pem...)
	}
	bundleFile := filepath.Join(dir, "ca-bundle.pem")
	if err := os.WriteFile(bundleFile, bundle, 0o600); err != nil {
		return fail(err)
	}
	tr, err := newTransport(bundleFile)
	if err != nil {
		return fail(err)
	}
	container := az.URL + "/readings"
	b, err := sink.NewBlob(sink.BlobConfig{URL: container, Tokens: person, Transport: tr, Logger: log})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdio.Out, "\nAzurite, Microsoft's Storage emulator, is running. The readings go to\n%s\n"+
		"as 'mapsdevice report --sink blob --blob-url URL' sends them.\n", container)
	return b, stop
}

// eventPrinter shows report's NDJSON events as sentences.
type eventPrinter struct{ w io.Writer }

func (p eventPrinter) Write(b []byte) (int, error) {
	var ev report.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return p.w.Write(b)
	}
	verb := "left"
	if ev.Event == "enter" {
		verb = "entered"
	}
	fmt.Fprintf(p.w, "  %s %-7s %-7s at %s (%+.0f m from the border)\n", ev.DeviceID, verb, ev.GeometryID, ev.Time.Local().Format("15:04:05.000"), ev.Distance)
	return len(b), nil
}
