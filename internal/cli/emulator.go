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
	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
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
	AppsFile                string
	Arc                     bool
	ArcTokenDir             string
	AppTokenLifetime        time.Duration
	Policy                  policyFlags
}

func newEmulatorCmd(stdio Stdio) *ffcli.Command {
	var o emulatorOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "emulator",
			ShortUsage: "mapsdevice emulator [flags]",
			ShortHelp:  "run a local Entra ID and Azure Maps for tests and demos",
			LongHelp: strings.TrimSpace(`
Run a local emulator of Microsoft Entra ID, of an Azure Maps account (Data
v2 and Spatial geofence; canned answers for Route 2025-01-01, geocoding
2026-01-01, Timezone 1.0, Weather 1.1 and Render 2024-04-01 static
images), of Key Vault, Event Hubs and the managed identity endpoints,
over HTTPS. It prints shell export lines (MAPSDEVICE_AUTHORITY,
MAPSDEVICE_CLIENT_ID, MAPSDEVICE_CA_FILE, MAPSDEVICE_MAPS_ENDPOINT,
MAPSDEVICE_MAPS_CLIENT_ID and the MAPSDEVICE_EMULATOR_ ones below) on
stdout, then serves until interrupted or terminated:
  mapsdevice emulator > emulator.env &
  . ./emulator.env

People approve codes at https://<listen>/devicelogin; scripts can post the
form directly:
  curl --cacert "$MAPSDEVICE_CA_FILE" -d user_code=CODE -d action=approve \
       https://127.0.0.1:8443/devicelogin
Built-in users: contributor@emulator.test (Azure Maps Data Contributor, the
default; Key Vault Secrets User on vault demo) and reader@emulator.test
(Azure Maps Data Reader).

Daemons sign in as the built-in apps, whose client ids are exported as
MAPSDEVICE_EMULATOR_SECRET_APP (daemon-secret), _CERT_APP (daemon-cert) and
_FIC_APP (daemon-fic), in tenant MAPSDEVICE_EMULATOR_TENANT. Their
credentials are in the state folder (MAPSDEVICE_EMULATOR_STATE):
daemon-secret.txt, daemon-cert.pem, daemon-cert.pfx with
daemon-cert.pfx.password, and federated-token.jwt, a token for daemon-fic
rewritten while the emulator runs. managed-identity.env has the export
lines of an App Service managed identity. MAPSDEVICE_EMULATOR_VAULT_URL is
a Key Vault secret that holds the Maps primary key; rotate both with
  curl --cacert "$MAPSDEVICE_CA_FILE" -X POST \
       https://127.0.0.1:8443/emulator/rotate-maps-key
With --arc the IMDS endpoint answers as an Azure Arc agent, whose
challenge keys go into --arc-token-dir.

The policy flags (--block-device-code-app, --security-defaults, …) refuse
sign-ins as an organisation's policy would, with Entra ID's codes. Change
them while it runs; the body replaces the whole policy:
  curl --cacert "$MAPSDEVICE_CA_FILE" -d '{"blockDeviceCodeRefresh":true}' \
       https://127.0.0.1:8443/emulator/policy`),
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
			fs.StringVar(&o.AppsFile, "apps-file", "", `JSON file of extra apps and user-assigned identities: {"apps":[…],"managedIdentities":[…]}`)
			fs.DurationVar(&o.AppTokenLifetime, "app-token-lifetime", time.Hour, "lifetime of app and managed identity tokens")
			fs.BoolVar(&o.Arc, "arc", false, "answer on the IMDS endpoint as an Azure Arc agent, with its key file challenge")
			fs.StringVar(&o.ArcTokenDir, "arc-token-dir", emulator.DefaultArcTokenDir, "folder for Azure Arc challenge keys")
			o.Policy.register(fs)
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
		AppTokenLifetime:        o.AppTokenLifetime,
		Arc:                     o.Arc,
		ArcTokenDir:             o.ArcTokenDir,
		Policy:                  o.Policy.policy(),
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
		positive("app-token-lifetime", o.AppTokenLifetime),
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
	if o.AppsFile != "" {
		f, err := emulator.LoadApps(o.AppsFile)
		if err != nil {
			return opts, usageError{err}
		}
		opts.Apps, opts.ManagedIdentities = f.Apps, f.ManagedIdentities
	}
	if o.Arc && o.ArcTokenDir == "" {
		return opts, usageError{errors.New("--arc-token-dir is empty: name the folder Azure Arc's keys go in")}
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
	if err := writeManagedIdentityEnv(srv); err != nil {
		return err
	}
	if err := writeFederatedToken(srv); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "export MAPSDEVICE_AUTHORITY=%s\nexport MAPSDEVICE_CLIENT_ID=%s\nexport MAPSDEVICE_CA_FILE=%s\n",
		shellQuote(srv.Authority()), shellQuote(srv.ClientID()), shellQuote(srv.CAFile()))
	fmt.Fprintf(stdio.Out, "export MAPSDEVICE_MAPS_ENDPOINT=%s\nexport MAPSDEVICE_MAPS_CLIENT_ID=%s\n",
		shellQuote(srv.MapsEndpoint()), shellQuote(srv.MapsClientID()))
	secretApp, _ := srv.SecretApp()
	certApp, _, _, _ := srv.CertApp()
	for _, kv := range [][2]string{
		{"SECRET_APP", secretApp},
		{"CERT_APP", certApp},
		{"FIC_APP", srv.FederatedApp()},
		{"VAULT_URL", srv.VaultSecretURL()},
		{"TENANT", srv.TenantID()},
		{"STATE", srv.StateDir()},
	} {
		fmt.Fprintf(stdio.Out, "export MAPSDEVICE_EMULATOR_%s=%s\n", kv[0], shellQuote(kv[1]))
	}
	fmt.Fprintf(stdio.Err, "Emulated Entra ID, Azure Maps and Key Vault on %s. Approve sign-ins at %s/devicelogin.\n", srv.URL(), srv.URL())
	fmt.Fprintf(stdio.Err, "Maps shared keys are in %s; daemon credentials and managed-identity.env in %s.\n",
		filepath.Join(o.State, "maps-keys.json"), srv.StateDir())
	if o.AutoApprove > 0 {
		fmt.Fprintf(stdio.Err, "Every new code is approved as %s after %s.\n", emulator.ContributorUser, o.AutoApprove)
	}
	if o.Arc {
		fmt.Fprintf(stdio.Err, "Answering as an Azure Arc agent; challenge keys go into %s.\n", o.ArcTokenDir)
	}
	fmt.Fprintln(stdio.Err, "Press Ctrl+C to stop.")
	refreshFederatedToken(ctx, srv, stdio)
	return nil
}

// federatedTokenLife and federatedTokenRefresh follow the kubelet, which
// rewrites a projected token when 80% of its life has passed.
const (
	federatedTokenLife    = time.Hour
	federatedTokenRefresh = federatedTokenLife * 8 / 10
)

// refreshFederatedToken rewrites federated-token.jwt until ctx ends.
func refreshFederatedToken(ctx context.Context, srv *emulator.Server, stdio Stdio) {
	tick := time.NewTicker(federatedTokenRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := writeFederatedToken(srv); err != nil {
				fmt.Fprintf(stdio.Err, "Could not refresh the federated token: %v\n", err)
			}
		}
	}
}

// writeFederatedToken writes a token for daemon-fic, as Kubernetes
// projects a service account token into a pod.
func writeFederatedToken(srv *emulator.Server) error {
	tok, err := srv.SignFederatedToken(emulator.FederatedSubject, federatedTokenLife)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(srv.StateDir(), "federated-token.jwt"), []byte(tok), 0o600); err != nil {
		return fmt.Errorf("write federated token: %w", err)
	}
	return nil
}

// writeManagedIdentityEnv writes the variables App Service gives a process
// with a managed identity, for a shell to source.
func writeManagedIdentityEnv(srv *emulator.Server) error {
	env := fmt.Sprintf("export IDENTITY_ENDPOINT=%s\nexport IDENTITY_HEADER=%s\n",
		shellQuote(srv.URL()+"/msi/token"), shellQuote(srv.IdentityHeader()))
	if err := atomicfile.Write(filepath.Join(srv.StateDir(), "managed-identity.env"), []byte(env), 0o600); err != nil {
		return fmt.Errorf("write managed-identity.env: %w", err)
	}
	return nil
}

// shellQuote quotes a value for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
