package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func newGeofenceDeleteCmd(stdio Stdio) *ffcli.Command {
	var o mapsOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "delete",
			ShortUsage: "mapsdevice geofence delete UDID [flags]",
			ShortHelp:  "delete uploaded fences",
			LongHelp:   "Delete the map data stored under UDID.",
		},
		nargs: 1, takes: "one argument, UDID",
		flags: func(fs *flag.FlagSet) {
			o.register(fs, `write {"event":"deleted","deleted":UDID} to stdout`)
		},
		run: func(ctx context.Context, args []string) error {
			client, err := o.client(ctx, stdio, nil)
			if err != nil {
				return err
			}
			if err := client.Delete(ctx, args[0]); err != nil {
				return needsRole(err, "Azure Maps Data Contributor")
			}
			if o.JSON {
				writeEvent(stdio.Out, deletedEvent{Event: "deleted", Deleted: args[0]})
			} else {
				fmt.Fprintf(stdio.Out, "Deleted %s.\n", args[0])
			}
			return nil
		},
	})
}
