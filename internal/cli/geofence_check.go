package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

type checkOptions struct {
	mapsOptions
	UDID, File, DeviceID, Time, Mode string
	Lat, Lon, Z, SearchBuffer        float64
	fs                               *flag.FlagSet // to tell which were set
}

func newGeofenceCheckCmd(stdio Stdio) *ffcli.Command {
	var o checkOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "check",
			ShortUsage: "mapsdevice geofence check --udid U|--file F --lat LAT --lon LON [flags]",
			ShortHelp:  "say where a position stands against fences",
			LongHelp: strings.TrimSpace(`
Ask the Spatial service how far a position is from each fence: negative
inside, positive outside, and ±999 beyond --search-buffer. --search-buffer
defaults to 500 m, the most the service allows, so distances are exact as
far as possible. With --json the service's answer is printed unchanged.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.fs = fs
			o.register(fs, "print the service's answer unchanged")
			fs.StringVar(&o.UDID, "udid", "", "udid of uploaded fences (GET)")
			fs.StringVar(&o.File, "file", "", "a local GeoJSON file of fences, sent with the request (POST)")
			fs.StringVar(&o.DeviceID, "device-id", "", "device id (default: the host name)")
			fs.Float64Var(&o.Lat, "lat", 0, "latitude of the position, -90 to 90")
			fs.Float64Var(&o.Lon, "lon", 0, "longitude of the position, -180 to 180")
			fs.Float64Var(&o.Z, "z", 0, "altitude in metres (accepted; fences are 2D)")
			fs.StringVar(&o.Time, "time", "", "when the device was there, RFC 3339 (default: now)")
			fs.Float64Var(&o.SearchBuffer, "search-buffer", 500, "metres from the border within which distances are exact (0 to 500)")
			fs.StringVar(&o.Mode, "mode", "", "All or EnterAndExit")
		},
		run: func(ctx context.Context, _ []string) error { return runGeofenceCheck(ctx, stdio, o) },
	})
}

func (o checkOptions) request() (azmaps.GeofenceRequest, error) {
	if (o.UDID == "") == (o.File == "") {
		return azmaps.GeofenceRequest{}, usageError{errors.New("give either --udid (uploaded fences) or --file (a local GeoJSON file)")}
	}
	if !isSet(o.fs, "lat") || !isSet(o.fs, "lon") {
		return azmaps.GeofenceRequest{}, usageError{errors.New("--lat and --lon are required")}
	}
	err := firstError(
		inRange("lat", o.Lat, -90, 90),
		inRange("lon", o.Lon, -180, 180),
		finite("z", o.Z),
		inRange("search-buffer", o.SearchBuffer, 0, 500),
	)
	if err != nil {
		return azmaps.GeofenceRequest{}, err
	}
	buffer := o.SearchBuffer
	req := azmaps.GeofenceRequest{DeviceID: o.DeviceID, UDID: o.UDID, Lat: o.Lat, Lon: o.Lon, SearchBuffer: &buffer, Mode: o.Mode}
	if req.DeviceID == "" {
		req.DeviceID, _ = os.Hostname()
	}
	if isSet(o.fs, "z") {
		z := o.Z
		req.Z = &z
	}
	if o.Time != "" {
		t, err := time.Parse(time.RFC3339, o.Time)
		if err != nil {
			return req, usageError{fmt.Errorf("--time %q: use RFC 3339, like 2026-01-31T08:00:00Z", o.Time)}
		}
		req.UserTime = t
	}
	return req, nil
}

func runGeofenceCheck(ctx context.Context, stdio Stdio, o checkOptions) error {
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
	for _, g := range res.Geometries {
		where := "outside"
		if g.Distance < 0 {
			where = "inside"
		}
		dist := fmt.Sprintf("%.1f m", g.Distance)
		if g.Distance == geofence.Far || g.Distance == -geofence.Far {
			dist = fmt.Sprintf("more than %.0f m", o.SearchBuffer)
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
}
