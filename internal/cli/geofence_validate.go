package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// geofence validate works offline: it registers only the output group.
func newGeofenceValidateCmd(stdio Stdio) *ffcli.Command {
	var asJSON bool
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "validate",
			ShortUsage: "mapsdevice geofence validate FILE [flags]",
			ShortHelp:  "check a GeoJSON geofence file and list every problem",
			LongHelp: strings.TrimSpace(`
Check a geofence file (or - for standard input) against the Azure Maps
rules: geometryId present and unique, radius where needed (1 to 10000 m)
and not on polygons, circles as a Point with subType Circle, closed rings,
coordinates in range and a well-formed validityTime. Every problem is
listed with where it is and what to fix. Exit 65 when there are problems.
Works offline: nothing is sent.`),
		},
		nargs: 1, takes: "one argument, FILE",
		flags: func(fs *flag.FlagSet) {
			registerJSON(fs, &asJSON, `write {"event":"validated","valid",..} to stdout`)
		},
		run: func(ctx context.Context, args []string) error {
			return runGeofenceValidate(stdio, args[0], asJSON)
		},
	})
}

func runGeofenceValidate(stdio Stdio, name string, asJSON bool) error {
	body, err := openGeoJSON("geofence file", name, stdio.In)
	if err != nil {
		return err
	}
	rc, err := body.Open()
	if err != nil {
		return usageError{fmt.Errorf("geofence file: %w", err)}
	}
	defer rc.Close()
	// Validate streams and keeps no fences, so a 100 MB file is checked
	// in bounded memory.
	n, err := geofence.Validate(rc)
	var inv *geofence.InvalidError
	switch {
	case errors.As(err, &inv):
		if asJSON {
			writeEvent(stdio.Out, validatedEvent{Event: "validated", Valid: false, Problems: inv.Problems})
		} else {
			fmt.Fprintf(stdio.Out, "%s has %d problem(s):\n", name, len(inv.Problems))
			for _, p := range inv.Problems {
				fmt.Fprintf(stdio.Out, "  - %s\n", p)
			}
		}
		return &exitError{code: ExitData, errCode: "invalid_geojson", shown: true,
			msg: fmt.Sprintf("%s has %d problem(s).", name, len(inv.Problems))}
	case errors.Is(err, geofence.ErrTooLarge):
		return &exitError{code: ExitData, errCode: "too_large", msg: "The GeoJSON is larger than the 100 MB Azure Maps takes per upload."}
	case err != nil:
		return fmt.Errorf("read %s: %w", name, err)
	}
	if asJSON {
		writeEvent(stdio.Out, validatedEvent{Event: "validated", Valid: true, Fences: &n})
		return nil
	}
	fmt.Fprintf(stdio.Out, "%s is a valid geofence file with %d fence(s).\n", name, n)
	return nil
}
