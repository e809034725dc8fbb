package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// leaf is a command that runs: its help, the flags it registers, the
// arguments it takes and what it does.
type leaf struct {
	ffcli.Command // Name, ShortUsage, ShortHelp, LongHelp
	// nargs is how many arguments it takes, and takes says so in words
	// ("FILE", "UDID and FILE"), for the message when the count is wrong.
	nargs int
	takes string
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, args []string) error
}

// newLeaf builds the command. Flags may come before or after the
// arguments ('mapsdevice api PATH --query k=v'); either way a flag wins
// over the environment, which wins over the config file.
func newLeaf(l leaf) *ffcli.Command {
	c := l.Command
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	if l.flags != nil {
		l.flags(fs)
	}
	c.FlagSet, c.UsageFunc, c.Options = fs, usage, parseOptions()
	c.Exec = func(ctx context.Context, args []string) error {
		pos, err := interspersed(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != l.nargs {
			if l.nargs == 0 {
				return usageError{fmt.Errorf("%s takes no arguments, got %q", c.Name, pos[0])}
			}
			return usageError{fmt.Errorf("%s takes %s; got %d", c.Name, l.takes, len(pos))}
		}
		return l.run(ctx, pos)
	}
	return &c
}

// errHelpShown is --help after an argument, whose help the flag package
// has already written.
var errHelpShown = errors.New("help shown")

// interspersed parses flags that come after positional arguments.
func interspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if !strings.HasPrefix(args[0], "-") || args[0] == "-" {
			pos = append(pos, args[0])
			args = args[1:]
			continue
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelpShown
			}
			return nil, usageError{err}
		}
		args = fs.Args()
	}
	return pos, nil
}

// isSet reports whether a flag came from the command line, the
// environment (MAPSDEVICE_LAT and so on) or the config file.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
