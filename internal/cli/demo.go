package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/geo"
)

type demoOptions struct {
	Manual       bool
	ApproveAfter time.Duration
	JSON         bool
	Plain        bool
}

func newDemoCmd(stdio Stdio) *ffcli.Command {
	var o demoOptions
	fs := newFlagSet("demo", stdio)
	fs.BoolVar(&o.Manual, "manual", false, "approve in a browser yourself instead of automatically")
	fs.DurationVar(&o.ApproveAfter, "approve-after", 3*time.Second, "delay before the demo approves its own code")
	fs.BoolVar(&o.JSON, "json", false, "write login events as NDJSON to stdout")
	fs.BoolVar(&o.Plain, "plain", false, "plain text instead of the full-screen code, even on a terminal")
	return &ffcli.Command{
		Name:       "demo",
		ShortUsage: "mapsdevice demo [flags]",
		ShortHelp:  "run the whole product against the built-in emulator",
		LongHelp: strings.TrimSpace(`
Start the emulator in this process on a free loopback port with a throwaway
state folder, sign in with a device code that approves itself after a few
seconds (or, with --manual, that you approve in a browser), then get a token
silently the way a device does afterwards. Nothing is kept.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: noArgs(stdio, "demo", &settings{}, &o.JSON, func(ctx context.Context) error {
			return runDemo(ctx, stdio, o)
		}),
	}
}

func runDemo(ctx context.Context, stdio Stdio, o demoOptions) error {
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
	x := &signIn{stdio: stdio, s: s, si: si, screen: screenOptions{JSON: o.JSON, Plain: o.Plain, Note: note}}
	res, err := x.run(ctx)
	if err != nil {
		return err
	}
	si = x.si
	again, err := si.client.Token(ctx)
	if err != nil {
		return err
	}
	if o.JSON {
		writeSignedIn(stdio, res, si)
		return nil
	}
	claims, err := srv.VerifyAccessToken(again.AccessToken)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "\nSigned in as %s (%s), tenant %s.\n", res.Account.Username, res.Account.Name, res.Account.TenantID)
	fmt.Fprintf(stdio.Out, "Azure Maps access token: audience %v, scope %v, valid until %s.\n",
		claims["aud"], claims["scp"], again.ExpiresOn.Local().Format("15:04:05 MST"))
	fmt.Fprintf(stdio.Out, "A second token request was served from the cache: %v.\n", again.FromCache)
	if err := demoGeofence(ctx, stdio, srv, si); err != nil {
		return err
	}
	fmt.Fprintln(stdio.Out, "\nNext: run 'mapsdevice emulator' in one shell and 'mapsdevice login' in another (see the README).")
	return nil
}

// demoFence is the device code guide's 500 m circle plus a polygon.
const demoFence = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500,"subType":"Circle"}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.14,47.63],[-122.12,47.63],[-122.12,47.65],[-122.14,47.65],[-122.14,47.63]]]},"properties":{"geometryId":"campus"}}]}`

// demoGeofence uploads the sample fence with the signed-in account's
// token and checks a few points against it.
func demoGeofence(ctx context.Context, stdio Stdio, srv *emulator.Server, si signedIn) error {
	client, err := newMapsClient(geo.Config{Endpoint: srv.MapsEndpoint(), ClientID: srv.MapsClientID(), Tokens: mapsTokens{si.client}}, srv.CAFile())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdio.Out, "\nUploading the guide's sample geofence (a 500 m circle and a polygon) to Azure Maps Data v2...")
	op, err := client.Upload(ctx, geo.BytesBody([]byte(demoFence)), "mapsdevice demo")
	if err != nil {
		return err
	}
	udid, err := client.Wait(ctx, op)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "Stored as udid %s. Checking positions with the Spatial geofence API:\n", udid)
	buffer := 500.0
	for _, p := range []struct {
		name     string
		lat, lon float64
	}{
		{"the circle's centre", 47.639754, -122.126986},
		{"1 km east of it", 47.639754, -122.113663},
		{"3 km south", 47.612776, -122.126986},
	} {
		res, err := client.Geofence(ctx, geo.GeofenceRequest{DeviceID: "demo-device", UDID: udid, Lat: p.lat, Lon: p.lon, SearchBuffer: &buffer}, nil)
		if err != nil {
			return err
		}
		var parts []string
		for _, g := range res.Geometries {
			switch {
			case g.Distance == -geo.Far:
				parts = append(parts, g.GeometryID+" inside (over 500 m from the border)")
			case g.Distance == geo.Far:
				parts = append(parts, g.GeometryID+" outside (over 500 m away)")
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
