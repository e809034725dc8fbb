package cli

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// Flags come in groups, and a command registers the groups it uses:
// output (--json, here), sign-in (settings.register), credential (here:
// the commands that need a token) and Maps (mapsSettings.register).

// registerJSON is the output group; what says what --json writes.
func registerJSON(fs *flag.FlagSet, v *bool, what string) {
	fs.BoolVar(v, "json", false, what)
}

// credentialFlags are the credential group: how a command that needs a
// token gets one. Secrets never come from the command line: a client
// secret comes from a file, standard input, MAPSDEVICE_CLIENT_SECRET or
// systemd's credentials, a PFX password from a file or
// MAPSDEVICE_CLIENT_CERTIFICATE_PASSWORD.
type credentialFlags struct {
	Kind            string
	SecretFile      string
	Certificate     string
	PasswordFile    string
	SendChain       bool
	FederatedToken  string
	ManagedIdentity string
	Timeout         time.Duration
}

func (c *credentialFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Kind, "credential", auth.CredentialDeviceCode, "how to get tokens: device-code, client-secret, client-certificate, workload-identity or managed-identity")
	fs.StringVar(&c.SecretFile, "client-secret-file", "", "file with the app's client secret, or - for the first line of stdin; else MAPSDEVICE_CLIENT_SECRET, else $CREDENTIALS_DIRECTORY/client-secret (systemd)")
	fs.StringVar(&c.Certificate, "client-certificate", "", "the app's certificate with its RSA key: PEM or PFX")
	fs.StringVar(&c.PasswordFile, "client-certificate-password-file", "", "file with the PFX password; else MAPSDEVICE_CLIENT_CERTIFICATE_PASSWORD")
	fs.BoolVar(&c.SendChain, "send-certificate-chain", false, "send the certificate chain with each request, for apps that trust a subject name and issuer")
	fs.StringVar(&c.FederatedToken, "federated-token-file", "", "file with the federated token, read for every token (default $AZURE_FEDERATED_TOKEN_FILE)")
	fs.StringVar(&c.ManagedIdentity, "managed-identity", "system", "which managed identity: system, or a user-assigned one as client-id=GUID, object-id=GUID or resource-id=/subscriptions/...")
	fs.DurationVar(&c.Timeout, "timeout", auth.DefaultTimeout, "longest wait for an app or managed identity token, or a Key Vault read")
}

// check says what is wrong with the group before anything starts.
func (c credentialFlags) check() error {
	switch c.Kind {
	case auth.CredentialDeviceCode, auth.CredentialClientSecret, auth.CredentialClientCertificate, auth.CredentialWorkloadIdentity, auth.CredentialManagedIdentity:
	default:
		return usageError{fmt.Errorf("--credential %q: use device-code, client-secret, client-certificate, workload-identity or managed-identity", c.Kind)}
	}
	if c.Kind == auth.CredentialClientCertificate && c.Certificate == "" {
		return usageError{errors.New("--credential client-certificate needs --client-certificate FILE (PEM or PFX)")}
	}
	return positive("timeout", c.Timeout)
}

// app is true for the kinds that sign in as an app or identity, with no
// person and no stored sign-in.
func (c credentialFlags) app() bool { return c.Kind != "" && c.Kind != auth.CredentialDeviceCode }

// wantsJSON says whether the command was asked for --json. When parsing
// stopped before the flag was read ('status --nope --json'), it is read
// as ff would have: the command line, then MAPSDEVICE_JSON, then the
// config file. A command that names none that runs ('mapsdevice frob
// --json') is answered in JSON when asked; one that runs and has no
// --json (emulator, version) never is.
func wantsJSON(c *ffcli.Command, args []string) bool {
	fs := c.FlagSet
	f := fs.Lookup("json")
	if f == nil && len(c.Subcommands) == 0 {
		return false
	}
	if f != nil && f.Value.String() == "true" {
		return true
	}
	if v, ok := boolInArgs(fs, args, "json"); ok {
		return v
	}
	if v := os.Getenv(EnvPrefix + "_JSON"); v != "" {
		b, _ := strconv.ParseBool(v)
		return b
	}
	return boolInConfig("json")
}

// boolInArgs finds a bool flag in arguments that may not parse, skipping
// the values of the command's other flags. The last one counts.
func boolInArgs(fs *flag.FlagSet, args []string, name string) (value, found bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue // an argument: flags may follow it
		}
		n, v, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if n == name {
			b, err := strconv.ParseBool(v)
			value, found = !hasValue || (err == nil && b), true
			continue
		}
		if f := fs.Lookup(n); f != nil && !hasValue && !isBoolFlag(f) {
			i++ // the next argument is this flag's value
		}
	}
	return value, found
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// boolInConfig reads a bool flag from the config file, as ff does.
func boolInConfig(name string) bool {
	path := configPath()
	if path == "" {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	value := false
	ff.PlainParser(f, func(n, v string) error {
		if n == name {
			value, _ = strconv.ParseBool(v)
		}
		return nil
	})
	return value
}

// Numbers are checked before anything runs: a bad one is a usage error
// that names the flag and what it takes.

// inRange checks a number flag: finite and from min to max.
func inRange(name string, v, min, max float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < min || v > max {
		return usageError{fmt.Errorf("--%s %s: use a number from %s to %s", name, number(v), number(min), number(max))}
	}
	return nil
}

// finite checks a number flag that takes any real value.
func finite(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return usageError{fmt.Errorf("--%s %s: use a finite number", name, number(v))}
	}
	return nil
}

// atLeast checks a whole-number flag.
func atLeast(name string, v, min int64) error {
	if v < min {
		return usageError{fmt.Errorf("--%s %d: use %d or more", name, v, min)}
	}
	return nil
}

// intRange checks a whole-number flag with an upper bound too.
func intRange(name string, v, min, max int64) error {
	if v < min || v > max {
		return usageError{fmt.Errorf("--%s %d: use %d to %d", name, v, min, max)}
	}
	return nil
}

// positive checks a duration flag that must be above zero.
func positive(name string, d time.Duration) error {
	if d <= 0 {
		return usageError{fmt.Errorf("--%s %s: use a duration above 0, like 5s", name, d)}
	}
	return nil
}

// notNegative checks a duration flag where 0 means off.
func notNegative(name string, d time.Duration) error {
	if d < 0 {
		return usageError{fmt.Errorf("--%s %s: use 0 or a duration above it, like 5s", name, d)}
	}
	return nil
}

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// firstError is the first of checks that failed.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
