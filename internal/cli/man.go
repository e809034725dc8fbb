package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
)

// runMan writes a man page for every command into the folder named by
// args: mapsdevice.1, mapsdevice-report.1, mapsdevice-geofence-check.1 and
// so on, from the command tree that parses the command line.
func runMan(root *ffcli.Command, args []string, stdio Stdio) int {
	if len(args) != 1 {
		fmt.Fprintln(stdio.Err, "usage: mapsdevice __man DIR")
		return ExitUsage
	}
	if err := writeManPages(root, args[0]); err != nil {
		fmt.Fprintln(stdio.Err, err)
		return ExitError
	}
	return ExitOK
}

func writeManPages(root *ffcli.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	v, _, _ := buildInfo()
	walk(root, func(c *ffcli.Command, path string) {
		name := strings.ReplaceAll(path, " ", "-")
		page := manPage(root, c, path, v)
		errs = append(errs, atomicfile.Write(filepath.Join(dir, name+".1"), []byte(page), 0o644))
	})
	return errors.Join(errs...)
}

// manPage renders one command's page in man(7) roff.
func manPage(root, c *ffcli.Command, path, version string) string {
	var b strings.Builder
	name := strings.ReplaceAll(path, " ", "-")
	fmt.Fprintf(&b, ".TH %s 1 \"\" \"mapsdevice %s\" \"mapsdevice manual\"\n", strings.ToUpper(roffEscape(name)), roffEscape(version))
	// No hyphenation and a ragged right edge: flags, addresses and
	// commands are copied from man pages, and must not gain hyphens.
	b.WriteString(".nh\n.ad l\n.SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", roffEscape(name), roffEscape(c.ShortHelp))
	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n", roffEscape(c.ShortUsage))
	b.WriteString(".SH DESCRIPTION\n")
	help := c.LongHelp
	if help == "" {
		help = capitalize(c.ShortHelp) + "."
	}
	manText(&b, help)
	if len(c.Subcommands) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, sub := range c.Subcommands {
			fmt.Fprintf(&b, ".TP\n.BR %s (1)\n%s\n", roffEscape(name+"-"+sub.Name), roffEscape(capitalize(sub.ShortHelp)+"."))
		}
	}
	if c.FlagSet != nil {
		first := true
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			if first {
				b.WriteString(".SH OPTIONS\n")
				first = false
			}
			kind, text := flag.UnquoteUsage(f)
			fmt.Fprintf(&b, ".TP\n\\fB\\-\\-%s\\fR", roffEscape(f.Name))
			if kind != "" {
				fmt.Fprintf(&b, " \\fI%s\\fR", roffEscape(kind))
			}
			fmt.Fprintf(&b, "\n%s\n.br\nEnvironment: %s_%s.", roffEscape(sentence(text)), EnvPrefix, strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
				fmt.Fprintf(&b, " Default: %s.", roffEscape(f.DefValue))
			}
			b.WriteString("\n")
		})
	}
	b.WriteString(".SH ENVIRONMENT\n")
	manText(&b, "Every flag can also be set with an environment variable MAPSDEVICE_<FLAG> (the flag's name in capitals, - as _), or a line \"<flag> <value>\" in the config file named by MAPSDEVICE_CONFIG (by default mapsdevice/config in the user's config folder). A flag wins over the environment, which wins over the file. NO_COLOR turns colour off.")
	b.WriteString(".SH EXIT STATUS\n")
	for _, e := range exitStatuses() {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.code, roffEscape(e.means))
	}
	b.WriteString(".SH SEE ALSO\n")
	var see []string
	if c != root {
		see = append(see, "mapsdevice(1)")
	}
	for _, sub := range c.Subcommands {
		see = append(see, name+"-"+sub.Name+"(1)")
	}
	see = append(see, "and the README, which the packages install in /usr/share/doc/mapsdevice")
	b.WriteString(roffEscape(strings.Join(see, ", ")) + "\n")
	return b.String()
}

// sentence capitalizes text and ends it with a full stop.
func sentence(text string) string {
	text = capitalize(strings.TrimSpace(text))
	if !strings.HasSuffix(text, ".") {
		text += "."
	}
	return text
}

// exitStatus is one exit code and what it means, as the README's table
// has it.
type exitStatus struct {
	code  int
	means string
}

func exitStatuses() []exitStatus {
	return []exitStatus{
		{ExitOK, "Success."},
		{ExitError, "An error: a declined or expired code, the network, a service, the disk or the keyring; an app credential, managed identity, Key Vault or the Maps shared key refused. The message says what next."},
		{ExitSignIn, "Sign-in needed: not signed in, or the refresh token expired or was revoked. Run mapsdevice login."},
		{ExitAdmin, "An administrator must act: a Conditional Access policy, security defaults or a device compliance rule refuses the sign-in, or the app registration needs consent or public client flows. The message lists what to give them."},
		{ExitUsage, "Usage: a bad flag, argument or number, a local file that cannot be read, or no client id."},
		{ExitData, "Invalid input: GeoJSON that breaks the geofence rules, or lines that were not positions or readings."},
		{ExitInterrupted, "Interrupted (Ctrl+C or SIGTERM); report ends 0 instead, with everything it read delivered or spooled."},
	}
}

// manText writes help text: paragraphs filled by the formatter, and lines
// indented by two spaces or more (examples) kept as they are.
func manText(b *strings.Builder, text string) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	verbatim := false
	for _, line := range lines {
		indented := strings.HasPrefix(line, "  ")
		switch {
		case strings.TrimSpace(line) == "":
			if verbatim {
				b.WriteString(".fi\n.RE\n")
				verbatim = false
			}
			b.WriteString(".PP\n")
			continue
		case indented && !verbatim:
			b.WriteString(".RS 4\n.nf\n")
			verbatim = true
		case !indented && verbatim:
			b.WriteString(".fi\n.RE\n")
			verbatim = false
		}
		if verbatim {
			line = strings.TrimPrefix(line, "  ")
		}
		b.WriteString(roffEscape(line) + "\n")
	}
	if verbatim {
		b.WriteString(".fi\n.RE\n")
	}
}

// roffEscape keeps text from being read as roff: backslashes, hyphens
// (which roff would render as typographic ones, and copy-paste breaks),
// and a leading dot or quote, which would start a request.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
