// Package cli is the mapsdevice command line: one file per command, each an
// options struct, its flags, and a run function.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// Stdio is where a command reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer // results, for people or programs
	Err io.Writer // prompts, progress and errors
}

// Exit codes, documented in the README.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitSignIn      = 2 // sign-in needed: run mapsdevice login
	ExitUsage       = 64
	ExitData        = 65 // the input (GeoJSON, readings) is invalid
	ExitInterrupted = 130
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "MAPSDEVICE"

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	root := newRoot(stdio)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		var noExec ffcli.NoExecError
		if errors.As(err, &noExec) {
			fmt.Fprintln(stdio.Err, noExec.Command.UsageFunc(noExec.Command))
			return ExitUsage
		}
		fmt.Fprintf(stdio.Err, "mapsdevice: %v\nRun 'mapsdevice --help' for usage.\n", err)
		return ExitUsage
	}
	err := root.Run(ctx)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK // usage was printed
	}
	return exit(stdio, err)
}

func newRoot(stdio Stdio) *ffcli.Command {
	fs := newFlagSet("mapsdevice", stdio)
	root := &ffcli.Command{
		Name:       "mapsdevice",
		ShortUsage: "mapsdevice <command> [flags]",
		LongHelp: strings.TrimSpace(`
Sign a device with no keyboard or browser in to Microsoft Entra ID with a
device code, keep it signed in, and work with Azure Maps.

Start with 'mapsdevice demo': it runs everything against the built-in
emulator, with nothing to set up.

Every flag can also be set with an environment variable MAPSDEVICE_<FLAG>
(for example MAPSDEVICE_CLIENT_ID) or a line "<flag> <value>" in the config
file ($MAPSDEVICE_CONFIG, by default ` + configHint() + `).
A flag wins over the environment, which wins over the file.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Subcommands: []*ffcli.Command{
			newLoginCmd(stdio),
			newStatusCmd(stdio),
			newTokenCmd(stdio),
			newLogoutCmd(stdio),
			newEmulatorCmd(stdio),
			newGeofenceCmd(stdio),
			newReportCmd(stdio),
			newAPICmd(stdio),
			newDemoCmd(stdio),
			newVersionCmd(stdio),
		},
		Exec: groupExec("command"),
	}
	return root
}

// groupExec is the Exec of a command that only holds subcommands.
func groupExec(what string) func(context.Context, []string) error {
	return func(_ context.Context, args []string) error {
		if len(args) == 0 {
			return flag.ErrHelp
		}
		return usageError{fmt.Errorf("unknown %s %q", what, args[0])}
	}
}

// noArgs is the Exec of a command that takes no arguments; s and asJSON
// are read when it runs, after the flags are parsed.
func noArgs(stdio Stdio, name string, s *settings, asJSON *bool, run func(context.Context) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return finish(stdio, *s, *asJSON, usageError{fmt.Errorf("%s takes no arguments, got %q", name, args[0])})
		}
		return finish(stdio, *s, *asJSON, run(ctx))
	}
}

// newFlagSet makes a flag set whose errors go to stderr and do not exit.
func newFlagSet(name string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	return fs
}

// parseOptions read flags, then MAPSDEVICE_* variables, then the config file.
func parseOptions() []ff.Option {
	opts := []ff.Option{
		ff.WithEnvVarPrefix(EnvPrefix),
		ff.WithConfigFileParser(ff.PlainParser),
		ff.WithAllowMissingConfigFile(true),
		ff.WithIgnoreUndefined(true),
	}
	if path := configPath(); path != "" {
		opts = append(opts, ff.WithConfigFile(path))
	}
	return opts
}

func configPath() string {
	if p := os.Getenv(EnvPrefix + "_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "mapsdevice", "config")
}

func configHint() string {
	if p := configPath(); p != "" {
		return p
	}
	return "<user config folder>/mapsdevice/config"
}

// defaultHome is the state folder: MAPSDEVICE_HOME is read through the
// --home flag; otherwise the OS's per-user state folder.
func defaultHome() string {
	if runtime.GOOS == "linux" {
		if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
			return filepath.Join(d, "mapsdevice")
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "state", "mapsdevice")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "mapsdevice")
	}
	return ".mapsdevice"
}

// usageError marks mistakes in how a command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
