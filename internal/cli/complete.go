package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// Shell completion is answered by the binary itself, from the same command
// tree that parses the command line, so it can never drift from it: the
// script a shell sources ('mapsdevice completion bash') runs
//
//	mapsdevice __complete WORD... CURRENT
//
// with the words typed so far and the one being completed (maybe empty),
// and reads one candidate a line ("value" or "value<TAB>description"),
// then a last line ":files" when the shell should offer file names, or
// ":none" when it should not.

// candidate is one completion: what to insert and, for shells that show
// it, what it is.
type candidate struct{ value, help string }

// completeDirective ends the answer.
const (
	completeFiles = ":files"
	completeNone  = ":none"
)

// runComplete answers a __complete request on out.
func runComplete(root *ffcli.Command, words []string, out io.Writer) int {
	if len(words) == 0 {
		words = []string{""}
	}
	if words[len(words)-1] == `""` { // PowerShell's empty word
		words[len(words)-1] = ""
	}
	cands, files := complete(root, words[:len(words)-1], words[len(words)-1])
	for _, c := range cands {
		if c.help != "" {
			fmt.Fprintf(out, "%s\t%s\n", c.value, c.help)
		} else {
			fmt.Fprintln(out, c.value)
		}
	}
	if files {
		fmt.Fprintln(out, completeFiles)
	} else {
		fmt.Fprintln(out, completeNone)
	}
	return ExitOK
}

// complete lists what may follow done, given the start of the word cur,
// and whether file names fit there too.
func complete(root *ffcli.Command, done []string, cur string) ([]candidate, bool) {
	c := root
	var pending *flag.Flag // a flag whose value is the next word
	given := map[string]string{}
	for _, w := range done {
		switch {
		case pending != nil:
			given[pending.Name] = w
			pending = nil
		case w == "--":
			// Only arguments follow.
		case strings.HasPrefix(w, "-") && w != "-":
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := lookupFlag(c, name)
			if f != nil && hasValue {
				given[name] = value
			}
			if f != nil && !hasValue && !isBoolFlag(f) {
				pending = f
			}
		default:
			if sub := subcommand(c, w); sub != nil {
				c = sub
			}
		}
	}
	if pending != nil {
		return withPrefix(flagValues(pending.Name, given), cur, ""), fileFlag(pending.Name)
	}
	if strings.HasPrefix(cur, "-") {
		if name, value, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			f := lookupFlag(c, name)
			if f == nil {
				return nil, false
			}
			// Shells that split words at '=' want the value only;
			// the scripts trim what they do not need.
			return withPrefix(flagValues(name, given), value, "--"+name+"="), fileFlag(name)
		}
		return flagNames(c, cur), false
	}
	if len(c.Subcommands) > 0 {
		var cands []candidate
		for _, sub := range c.Subcommands {
			if strings.HasPrefix(sub.Name, cur) {
				cands = append(cands, candidate{sub.Name, sub.ShortHelp})
			}
		}
		return cands, false
	}
	if c.Name == "completion" {
		return withPrefix(completionShells(), cur, ""), false
	}
	// A command's arguments are named in its usage: FILE and PATH-like
	// ones are file names.
	return nil, strings.Contains(c.ShortUsage, "FILE")
}

// subcommand is c's subcommand named name, as ffcli matches it.
func subcommand(c *ffcli.Command, name string) *ffcli.Command {
	for _, sub := range c.Subcommands {
		if strings.EqualFold(sub.Name, name) {
			return sub
		}
	}
	return nil
}

func lookupFlag(c *ffcli.Command, name string) *flag.Flag {
	if c.FlagSet == nil {
		return nil
	}
	return c.FlagSet.Lookup(name)
}

// flagNames lists c's flags that start with cur, with their usage.
func flagNames(c *ffcli.Command, cur string) []candidate {
	var cands []candidate
	if c.FlagSet != nil {
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			name := "--" + f.Name
			if len(f.Name) == 1 {
				name = "-" + f.Name
			}
			if strings.HasPrefix(name, cur) || strings.HasPrefix("--"+f.Name, cur) {
				cands = append(cands, candidate{name, summary(f.Usage)})
			}
		})
	}
	if strings.HasPrefix("--help", cur) {
		cands = append(cands, candidate{"--help", "show help"})
	}
	return cands
}

// summary is a flag's usage up to its first ": " or "; " outside quotes,
// short enough to show beside the flag.
func summary(usage string) string {
	quoted := false
	for i, r := range usage {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ':' || r == ';') && strings.HasPrefix(usage[i+1:], " "):
			return usage[:i]
		}
	}
	return usage
}

// withPrefix keeps the values that start with cur, each written after
// prefix.
func withPrefix(values []string, cur, prefix string) []candidate {
	var cands []candidate
	for _, v := range values {
		if strings.HasPrefix(v, cur) {
			cands = append(cands, candidate{value: prefix + v})
		}
	}
	return cands
}

// flagValues lists the values a flag takes. given holds the flags
// already on the line: --home says where profiles are kept.
func flagValues(name string, given map[string]string) []string {
	switch name {
	case "credential":
		return []string{auth.CredentialDeviceCode, auth.CredentialClientSecret, auth.CredentialClientCertificate, auth.CredentialWorkloadIdentity, auth.CredentialManagedIdentity}
	case "token-store":
		return []string{"auto", "keyring", "file", "memory"}
	case "sink":
		return []string{sinkMapsData, sinkBlob, sinkEventHubs, sinkHTTPS}
	case "geography":
		return []string{"us", "eu"}
	case "mode":
		return []string{"All", "EnterAndExit"}
	case "spool-full":
		return []string{"drop-oldest", "block"}
	case "log-format":
		return []string{"text", "json"}
	case "X", "method":
		return []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	case "managed-identity":
		return []string{"system", "client-id=", "object-id=", "resource-id="}
	case "profile":
		home := given["home"]
		if home == "" {
			home = os.Getenv(EnvPrefix + "_HOME")
		}
		if home == "" {
			home = defaultHome()
		}
		return storedProfiles(home)
	}
	return nil
}

// storedProfiles lists the profiles signed in under home: each keeps a
// lock file beside its tokens, whichever store holds them.
func storedProfiles(home string) []string {
	locks, _ := filepath.Glob(filepath.Join(home, "*.lock"))
	var names []string
	for _, l := range locks {
		names = append(names, strings.TrimSuffix(filepath.Base(l), ".lock"))
	}
	slices.Sort(names)
	return names
}

// fileFlag says whether a flag takes a file or folder name.
func fileFlag(name string) bool {
	switch name {
	case "input", "client-certificate", "local-geofence", "home", "state", "arc-token-dir", "track", "png", "file":
		return true
	}
	return strings.HasSuffix(name, "-file") || strings.HasSuffix(name, "-dir")
}
