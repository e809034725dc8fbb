package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func newVersionCmd(stdio Stdio) *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "mapsdevice version",
		ShortHelp:  "print the version",
		FlagSet:    newFlagSet("version", stdio),
		UsageFunc:  usage,
		Exec: func(ctx context.Context, args []string) error {
			version := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				version = bi.Main.Version
			}
			fmt.Fprintf(stdio.Out, "mapsdevice %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
			return nil
		},
	}
}
