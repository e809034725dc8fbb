package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

type uploadOptions struct {
	mapsOptions
	Description string
	NoWait      bool
}

// register registers the flags; event is the --json event's name.
func (o *uploadOptions) register(fs *flag.FlagSet, event string) {
	o.mapsOptions.register(fs, `write {"event":"`+event+`","udid",..} to stdout`)
	fs.StringVar(&o.Description, "description", "", "a description kept with the data")
	fs.BoolVar(&o.NoWait, "no-wait", false, "print the operation id and return without waiting for the udid")
}

func newGeofenceUploadCmd(stdio Stdio) *ffcli.Command {
	var o uploadOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "upload",
			ShortUsage: "mapsdevice geofence upload FILE [flags]",
			ShortHelp:  "upload a geofence file; prints its udid",
			LongHelp: strings.TrimSpace(`
Upload a GeoJSON geofence file (or - for standard input) to the Data v2
service, wait for the service to accept it, and print its udid, which
'geofence check --udid' takes. With --json:
{"event":"uploaded","udid","operationId","status"}.`),
		},
		nargs: 1, takes: "one argument, FILE",
		flags: func(fs *flag.FlagSet) { o.register(fs, "uploaded") },
		run: func(ctx context.Context, args []string) error {
			return runUpload(ctx, stdio, o, "", args[0])
		},
	})
}

// runUpload uploads file, or replaces the fences under udid with it.
func runUpload(ctx context.Context, stdio Stdio, o uploadOptions, udid, file string) error {
	body, err := openGeoJSON("geofence file", file, stdio.In)
	if err != nil {
		return err
	}
	p := newProgress(stdio, o.JSON)
	client, err := o.client(ctx, stdio, p.report)
	if err != nil {
		return err
	}
	event := "uploaded"
	var op azmaps.Operation
	if udid != "" {
		event = "updated"
		op, err = client.Update(ctx, udid, body, o.Description)
	} else {
		op, err = client.Upload(ctx, body, o.Description)
	}
	if err != nil {
		return needsRole(err, "Azure Maps Data Contributor")
	}
	status := "NotStarted"
	if !o.NoWait {
		udid, err = client.Wait(ctx, op)
		p.done()
		if err != nil {
			return err
		}
		status = "Succeeded"
	}
	if o.JSON {
		writeEvent(stdio.Out, uploadedEvent{Event: event, UDID: udid, OperationID: op.ID, Status: status})
		return nil
	}
	if o.NoWait {
		fmt.Fprintf(stdio.Out, "Accepted as operation %s; it goes on at Azure Maps.\n", op.ID)
		return nil
	}
	fmt.Fprintln(stdio.Out, udid)
	return nil
}
