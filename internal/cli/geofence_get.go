package cli

import (
	"context"
	"flag"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func newGeofenceGetCmd(stdio Stdio) *ffcli.Command {
	var o mapsOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "get",
			ShortUsage: "mapsdevice geofence get UDID [flags]",
			ShortHelp:  "download uploaded fences to stdout",
			LongHelp:   "Download the GeoJSON stored under UDID to standard output.",
		},
		nargs: 1, takes: "one argument, UDID",
		flags: func(fs *flag.FlagSet) {
			o.register(fs, "errors as JSON events on stdout (the GeoJSON is written as it is)")
		},
		run: func(ctx context.Context, args []string) error {
			client, err := o.client(ctx, stdio, nil)
			if err != nil {
				return err
			}
			_, err = client.Download(ctx, args[0], stdio.Out)
			return needsRole(err, "Azure Maps Data Reader")
		},
	})
}
