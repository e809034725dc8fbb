// Package cli is the mapsdevice command line: one file per command, each an
// options struct, its flags, and a run function. Errors are rendered once,
// in Main.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// Exit codes, documented in the README and docs/json.md.
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

// Main runs the command line and returns the process exit code. Every
// error is rendered here, once: for people on stderr, and with --json also
// as one error event on stdout.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	stdio.secrets = &redactor{}
	root := newRoot(stdio)
	// Hidden: the shell completion scripts' question, and the man pages
	// the release builds (scripts/docs).
	if len(args) > 0 && args[0] == "__complete" {
		return runComplete(root, args[1:], stdio.Out)
	}
	if len(args) > 0 && args[0] == "__man" {
		return runMan(root, args[1:], stdio)
	}
	// Help goes to stderr when it was asked for; the flag package's own
	// messages about bad flags are dropped, the error below says it.
	var help bytes.Buffer
	walk(root, func(c *ffcli.Command, _ string) { c.FlagSet.SetOutput(&help) })

	err := root.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		// ff's "error parsing commandline arguments: " says nothing more
		// than that it is a usage error.
		if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "error parsing commandline") {
			err = inner
		}
		if m := badEnvValue.FindStringSubmatch(err.Error()); m != nil {
			err = fmt.Errorf("%s=%q is not a valid value for --%s", m[2], os.Getenv(m[2]), m[1])
		}
		if strings.Contains(err.Error(), "flag provided but not defined: -client-secret") {
			err = errors.New("--client-secret: a secret on the command line is seen by every user of the machine;\n" +
				"give it with --client-secret-file FILE (or - for standard input), MAPSDEVICE_CLIENT_SECRET,\n" +
				"or systemd's LoadCredential=client-secret:FILE")
		}
		err = usageError{err}
	}
	if err == nil {
		if _, _, rest := selected(root, args); namedInArgs(rest, "maps-key") {
			fmt.Fprintln(stdio.Err, "Warning: --maps-key puts the key on the command line, where every user of the machine can see it.\n"+
				"Use --maps-key-file, MAPSDEVICE_MAPS_KEY or --maps-key-from-vault instead; --maps-key will be removed.")
		}
		err = root.Run(ctx)
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp), errors.Is(err, errHelpShown):
		stdio.Err.Write(help.Bytes())
		return ExitOK
	}
	cmd, path, rest := selected(root, args)
	ee := explain(err, path, settingsOf(cmd.FlagSet))
	ee.msg = stdio.secrets.redact(ee.msg)
	if !ee.shown {
		fmt.Fprintln(stdio.Err, ee.msg)
	}
	if wantsJSON(cmd, rest) {
		writeEvent(stdio.Out, errorEvent{Event: "error", Code: ee.errCode, Message: ee.msg})
	}
	return ee.code
}

func newRoot(stdio Stdio) *ffcli.Command {
	return &ffcli.Command{
		Name:       "mapsdevice",
		ShortUsage: "mapsdevice <command> [flags]",
		ShortHelp:  "sign a device in to Entra ID and work with Azure Maps",
		LongHelp: strings.TrimSpace(`
Sign a device with no keyboard or browser in to Microsoft Entra ID with a
device code, keep it signed in, and work with Azure Maps.

Start with 'mapsdevice demo': it runs everything against the built-in
emulator, with nothing to set up.

Every flag can also be set with an environment variable MAPSDEVICE_<FLAG>
(for example MAPSDEVICE_CLIENT_ID) or a line "<flag> <value>" in the config
file ($MAPSDEVICE_CONFIG, by default ` + configHint() + `).
A flag wins over the environment, which wins over the file.`),
		FlagSet:   flag.NewFlagSet("mapsdevice", flag.ContinueOnError),
		UsageFunc: usage,
		Subcommands: []*ffcli.Command{
			newLoginCmd(stdio),
			newStatusCmd(stdio),
			newDoctorCmd(stdio),
			newRenewCmd(stdio),
			newTokenCmd(stdio),
			newLogoutCmd(stdio),
			newEmulatorCmd(stdio),
			newGeofenceCmd(stdio),
			newReportCmd(stdio),
			newAPICmd(stdio),
			newDemoCmd(stdio),
			newCompletionCmd(stdio),
			newVersionCmd(stdio),
		},
		Exec: groupExec("command"),
	}
}

// namedInArgs says whether a flag was given on the command line, as
// -name, --name or --name=value, before any "--".
func namedInArgs(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		n, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if strings.HasPrefix(a, "-") && n == name {
			return true
		}
	}
	return false
}

// walk visits every command of the tree with its full name.
func walk(c *ffcli.Command, visit func(c *ffcli.Command, path string)) {
	var rec func(c *ffcli.Command, path string)
	rec = func(c *ffcli.Command, path string) {
		visit(c, path)
		for _, sub := range c.Subcommands {
			rec(sub, path+" "+sub.Name)
		}
	}
	rec(c, c.Name)
}

// selected finds the command args name, as ffcli does (only leaf commands
// have flags), with its full name and the arguments that follow it.
func selected(root *ffcli.Command, args []string) (*ffcli.Command, string, []string) {
	c, path := root, root.Name
	for len(args) > 0 {
		var next *ffcli.Command
		for _, sub := range c.Subcommands {
			if strings.EqualFold(args[0], sub.Name) {
				next = sub
			}
		}
		if next == nil {
			break
		}
		c, path, args = next, path+" "+next.Name, args[1:]
	}
	return c, path, args
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

// badEnvValue is how ff reports a variable that does not parse.
var badEnvValue = regexp.MustCompile(`error setting flag "([^"]+)" from environment variable "([^"]+)"`)

// usageError marks mistakes in how a command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
