package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// Release builds stamp these through the linker (-X, see .goreleaser.yaml);
// they are never written at run time.
var (
	version string
	commit  string
	date    string
)

func newVersionCmd(stdio Stdio) *ffcli.Command {
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "version",
			ShortUsage: "mapsdevice version",
			ShortHelp:  "print the version",
			LongHelp:   "Print the version, the commit and date it was built from, and the platform.",
		},
		run: func(context.Context, []string) error {
			v, c, d := buildInfo()
			fmt.Fprintf(stdio.Out, "mapsdevice %s", v)
			if c != "" {
				fmt.Fprintf(stdio.Out, " (commit %s", c)
				if d != "" {
					fmt.Fprintf(stdio.Out, ", built %s", d)
				}
				fmt.Fprint(stdio.Out, ")")
			}
			fmt.Fprintf(stdio.Out, " %s/%s %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version())
			return nil
		},
	})
}

// buildInfo prefers the release stamp, then what Go recorded: the module
// version for 'go install', the VCS revision for builds from a checkout.
func buildInfo() (v, c, d string) {
	v, c, d = version, commit, date
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDevel(v), c, d
	}
	if v == "" && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && c == "":
			c = s.Value
			if len(c) > 12 {
				c = c[:12]
			}
		case s.Key == "vcs.time" && d == "":
			d = s.Value
		}
	}
	return orDevel(v), c, d
}

func orDevel(v string) string {
	if v == "" {
		return "(devel)"
	}
	return v
}
