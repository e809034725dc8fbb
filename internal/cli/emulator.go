package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/emulator"
)

type emulatorOptions struct {
	Listen                  string
	State                   string
	Interval                time.Duration
	ExpiresIn               time.Duration
	AccessTokenLifetime     time.Duration
	AutoApprove             time.Duration
	Users                   string
	UsersFile               string
	VerificationURIComplete bool
	SingleUseRefreshTokens  bool
	MapsKeys                string
	MapsRate                float64
	StorageQuota            int64
}

func newEmulatorCmd(stdio Stdio) *ffcli.Command {
	var o emulatorOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "emulator",
			ShortUsage: "mapsdevice emulator [flags]",
			ShortHelp:  "run a local Entra ID and Azure Maps for tests and demos",
			LongHelp: strings.TrimSpace(`
Run a local emulator of Microsoft Entra ID and of an Azure Maps account
(Data v2 and Spatial geofence) over HTTPS. It prints shell export lines
(MAPSDEVICE_AUTHORITY, MAPSDEVICE_CLIENT_ID, MAPSDEVICE_CA_FILE,
MAPSDEVICE_MAPS_ENDPOINT, MAPSDEVICE_MAPS_CLIENT_ID) on stdout, then serves
until interrupted or terminated:
  mapsdevice emulator > emulator.env &
  . ./emulator.env

People approve codes at https://<listen>/devicelogin; scripts can post the
form directly:
  curl --cacert "$MAPSDEVICE_CA_FILE" -d user_code=CODE -d action=approve \
       https://127.0.0.1:8443/devicelogin
Built-in users: contributor@emulator.test (Azure Maps Data Contributor, the
default) and reader@emulator.test (Azure Maps Data Reader).`),
		},
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.Listen, "listen", "127.0.0.1:8443", "address to listen on; keep it fixed so stored sign-ins stay valid")
			fs.StringVar(&o.State, "state", filepath.Join(defaultHome(), "emulator"), "folder for ca.pem and the signing keys")
			fs.DurationVar(&o.Interval, "interval", 5*time.Second, "device code polling interval, whole seconds")
			fs.DurationVar(&o.ExpiresIn, "expires-in", 15*time.Minute, "device code lifetime")
			fs.DurationVar(&o.AccessTokenLifetime, "access-token-lifetime", 75*time.Minute, "access token lifetime")
			fs.DurationVar(&o.AutoApprove, "auto-approve", 0, "approve every new code as the default user after this delay (0: never)")
			fs.StringVar(&o.Users, "users", "", `extra users, comma-separated "name@domain[=role]"`)
			fs.StringVar(&o.UsersFile, "users-file", "", `JSON file of extra users: [{"username","name","role"}]`)
			fs.BoolVar(&o.VerificationURIComplete, "verification-uri-complete", false, "also send verification_uri_complete (Entra ID never does)")
			fs.BoolVar(&o.SingleUseRefreshTokens, "single-use-refresh-tokens", false, "reject a refresh token once redeemed (Entra ID keeps old ones valid)")
			fs.StringVar(&o.MapsKeys, "maps-keys", "", `Maps shared keys "primary,secondary" (default: kept in --state)`)
			fs.Float64Var(&o.MapsRate, "maps-rate", 50, "Maps requests per second before 429 (negative: no limit)")
			fs.Int64Var(&o.StorageQuota, "storage-quota", 1<<30, "bytes of map data before uploads get 409")
		},
		run: func(ctx context.Context, _ []string) error { return runEmulator(ctx, stdio, o) },
	})
}

func (o emulatorOptions) serverOptions() (emulator.Options, error) {
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return emulator.Options{}, usageError{fmt.Errorf("--listen %q: use HOST:PORT, such as 127.0.0.1:8443", o.Listen)}
	}
	opts := emulator.Options{
		StateDir:                o.State,
		Listen:                  o.Listen,
		Interval:                o.Interval,
		ExpiresIn:               o.ExpiresIn,
		AccessTokenLifetime:     o.AccessTokenLifetime,
		AutoApprove:             o.AutoApprove,
		VerificationURIComplete: o.VerificationURIComplete,
		SingleUseRefreshTokens:  o.SingleUseRefreshTokens,
		MapsRate:                o.MapsRate,
		MapsStorageQuota:        o.StorageQuota,
	}
	if o.MapsKeys != "" {
		primary, secondary, _ := strings.Cut(o.MapsKeys, ",")
		opts.SharedKeys = [2]string{strings.TrimSpace(primary), strings.TrimSpace(secondary)}
	}
	if o.Interval < time.Second || o.Interval%time.Second != 0 {
		return opts, usageError{fmt.Errorf("--interval %s: use whole seconds, at least 1s", o.Interval)}
	}
	err := firstError(
		positive("expires-in", o.ExpiresIn),
		positive("access-token-lifetime", o.AccessTokenLifetime),
		notNegative("auto-approve", o.AutoApprove),
		finite("maps-rate", o.MapsRate),
		atLeast("storage-quota", o.StorageQuota, 1),
	)
	if err != nil {
		return opts, err
	}
	if o.MapsRate == 0 {
		return opts, usageError{errors.New("--maps-rate 0: use a rate above 0, or a negative one for no limit")}
	}
	for _, spec := range strings.Split(o.Users, ",") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		u, err := emulator.ParseUser(spec)
		if err != nil {
			return opts, usageError{err}
		}
		opts.Users = append(opts.Users, u)
	}
	if o.UsersFile != "" {
		users, err := emulator.LoadUsers(o.UsersFile)
		if err != nil {
			return opts, usageError{err}
		}
		opts.Users = append(opts.Users, users...)
	}
	return opts, nil
}

func runEmulator(ctx context.Context, stdio Stdio, o emulatorOptions) error {
	opts, err := o.serverOptions()
	if err != nil {
		return err
	}
	srv, err := emulator.New(opts)
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(stdio.Out, "export MAPSDEVICE_AUTHORITY=%s\nexport MAPSDEVICE_CLIENT_ID=%s\nexport MAPSDEVICE_CA_FILE=%s\n",
		shellQuote(srv.Authority()), shellQuote(srv.ClientID()), shellQuote(srv.CAFile()))
	fmt.Fprintf(stdio.Out, "export MAPSDEVICE_MAPS_ENDPOINT=%s\nexport MAPSDEVICE_MAPS_CLIENT_ID=%s\n",
		shellQuote(srv.MapsEndpoint()), shellQuote(srv.MapsClientID()))
	fmt.Fprintf(stdio.Err, "Emulated Entra ID and Azure Maps on %s. Approve sign-ins at %s/devicelogin.\n", srv.URL(), srv.URL())
	fmt.Fprintf(stdio.Err, "Maps shared keys are in %s.\n", filepath.Join(o.State, "maps-keys.json"))
	if o.AutoApprove > 0 {
		fmt.Fprintf(stdio.Err, "Every new code is approved as %s after %s.\n", emulator.ContributorUser, o.AutoApprove)
	}
	fmt.Fprintln(stdio.Err, "Press Ctrl+C to stop.")
	<-ctx.Done()
	return nil
}

// shellQuote quotes a value for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
