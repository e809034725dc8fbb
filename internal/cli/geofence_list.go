package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func newGeofenceListCmd(stdio Stdio) *ffcli.Command {
	var o mapsOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "list",
			ShortUsage: "mapsdevice geofence list [flags]",
			ShortHelp:  "list uploaded map data",
			LongHelp:   "List the map data of the Maps account: udid, status, size, when and description.",
		},
		flags: func(fs *flag.FlagSet) {
			o.register(fs, `write {"event":"map_data","mapDataList":[..]} to stdout`)
		},
		run: func(ctx context.Context, _ []string) error { return runGeofenceList(ctx, stdio, o) },
	})
}

func runGeofenceList(ctx context.Context, stdio Stdio, o mapsOptions) error {
	client, err := o.client(ctx, stdio, nil)
	if err != nil {
		return err
	}
	list, err := client.List(ctx)
	if err != nil {
		return needsRole(err, "Azure Maps Data Reader")
	}
	if o.JSON {
		writeEvent(stdio.Out, mapDataEvent{Event: "map_data", MapDataList: list})
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
}
