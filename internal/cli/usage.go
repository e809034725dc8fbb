package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// usage renders help that fits 80 columns: each flag on its own line, its
// description below, with its environment variable and default.
func usage(c *ffcli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n", c.ShortUsage)
	if c.LongHelp != "" {
		fmt.Fprintf(&b, "\n%s\n", c.LongHelp)
	} else if c.ShortHelp != "" {
		fmt.Fprintf(&b, "\n%s.\n", capitalize(c.ShortHelp))
	}
	if len(c.Subcommands) > 0 {
		b.WriteString("\nCommands:\n")
		for _, sub := range c.Subcommands {
			fmt.Fprintf(&b, "  %-10s %s\n", sub.Name, sub.ShortHelp)
		}
		fmt.Fprintf(&b, "\nRun '%s <command> --help' for a command's flags.\n", strings.TrimSuffix(c.ShortUsage, " <command> [flags]"))
	}
	if c.FlagSet == nil {
		return b.String()
	}
	first := true
	c.FlagSet.VisitAll(func(f *flag.Flag) {
		if first {
			b.WriteString("\nFlags:\n")
			first = false
		}
		kind, text := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if kind != "" {
			fmt.Fprintf(&b, " %s", kind)
		}
		for _, line := range wrap(text, 74) {
			fmt.Fprintf(&b, "\n      %s", line)
		}
		fmt.Fprintf(&b, "\n      env %s_%s\n", EnvPrefix, strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
			fmt.Fprintf(&b, "      default %s\n", f.DefValue)
		}
	})
	return b.String()
}

// wrap breaks text into lines of at most width runes, between words.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) > width:
			lines = append(lines, line)
			line = w
		default:
			line += " " + w
		}
	}
	return append(lines, line)
}
