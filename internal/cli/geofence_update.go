package cli

import (
	"context"
	"flag"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func newGeofenceUpdateCmd(stdio Stdio) *ffcli.Command {
	var o uploadOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "update",
			ShortUsage: "mapsdevice geofence update UDID FILE [flags]",
			ShortHelp:  "replace the content of uploaded fences",
			LongHelp: "Replace the fences stored under UDID with a new GeoJSON file (or - for\n" +
				"standard input); the udid stays the same. With --json:\n" +
				`{"event":"updated","udid","operationId","status"}.`,
		},
		nargs: 2, takes: "two arguments, UDID and FILE",
		flags: func(fs *flag.FlagSet) { o.register(fs, "updated") },
		run: func(ctx context.Context, args []string) error {
			return runUpload(ctx, stdio, o, args[0], args[1])
		},
	})
}
