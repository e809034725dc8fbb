package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/auth/tokenstore"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

type doctorOptions struct {
	settings
	maps mapsSettings
	JSON bool
}

func newDoctorCmd(stdio Stdio) *ffcli.Command {
	var o doctorOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "doctor",
			ShortUsage: "mapsdevice doctor [flags]",
			ShortHelp:  "check the configuration, the network, the clock and the sign-in",
			LongHelp: strings.TrimSpace(`
Check, one by one, what a sign-in and Azure Maps calls depend on, and say
for each what was found and how to fix it:
  configuration  a client id; a tenant rather than common or organizations
  authority      reachable, over trusted TLS, through which proxy; its
                 OpenID metadata offers the device code flow
  clock          against the Date of the authority's answer
  token store    which one, whether the keyring answers, file modes
  sign-in        the account, when its refresh token was last redeemed and
                 the days left of the 90-day window; a token is got silently
  maps           a harmless read, and whether writes would be refused
  credential     for app credentials and managed identities: where it comes
                 from and whether it loads
Exit 0 when nothing failed (warnings allowed), 1 otherwise.

With --json, one {"event":"check",...} line a check, then
{"event":"doctor",...} with the counts (see docs/json.md).`),
		},
		flags: func(fs *flag.FlagSet) {
			o.settings.registerWithCredential(fs)
			o.maps.register(fs)
			registerJSON(fs, &o.JSON, "write NDJSON events to stdout")
		},
		run: func(ctx context.Context, _ []string) error { return runDoctor(ctx, stdio, o) },
	})
}

// The verdicts of a check.
const (
	verdictPass = "pass"
	verdictWarn = "warn" // worth knowing; does not fail the run
	verdictFail = "fail"
	verdictSkip = "skip" // does not apply, or an earlier check failed
)

// doctorTimeout bounds each check that goes to the network.
const doctorTimeout = 15 * time.Second

func runDoctor(ctx context.Context, stdio Stdio, o doctorOptions) error {
	d := &doctor{stdio: stdio, o: o, command: "mapsdevice doctor"}
	d.configuration()
	serverDate, localDate := d.authority(ctx)
	d.clock(serverDate, localDate)
	if o.Cred.app() {
		d.credential(ctx)
	} else {
		si := d.tokenStore(ctx)
		d.signIn(ctx, si)
	}
	d.mapsAccess(ctx)

	sum := doctorEvent{Event: "doctor"}
	for _, c := range d.results {
		switch c.Verdict {
		case verdictPass:
			sum.Passed++
		case verdictWarn:
			sum.Warned++
		case verdictFail:
			sum.Failed++
		default:
			sum.Skipped++
		}
	}
	if o.JSON {
		writeEvent(stdio.Out, sum)
	} else {
		fmt.Fprintf(stdio.Out, "\n%d passed, %d warned, %d failed, %d skipped.\n", sum.Passed, sum.Warned, sum.Failed, sum.Skipped)
	}
	if sum.Failed > 0 {
		return &exitError{code: ExitError, errCode: "doctor_failed", shown: true, msg: fmt.Sprintf("%d check(s) failed.", sum.Failed)}
	}
	return nil
}

type doctor struct {
	stdio   Stdio
	o       doctorOptions
	command string
	results []checkEvent
}

// report records a check and shows it at once, so a slow check is seen
// coming.
func (d *doctor) report(name, verdict, detail, fix string) {
	c := checkEvent{Event: "check", Name: name, Verdict: verdict, Detail: detail, Fix: fix}
	d.results = append(d.results, c)
	if d.o.JSON {
		writeEvent(d.stdio.Out, c)
		return
	}
	fmt.Fprintf(d.stdio.Out, "%-4s  %-13s %s\n", strings.ToUpper(verdict), name, detail)
	for _, line := range strings.Split(fix, "\n") {
		if line != "" {
			fmt.Fprintf(d.stdio.Out, "      %-13s %s\n", "", line)
		}
	}
}

// fail reports an error as explain words it: its first line is what was
// found, the rest the fix.
func (d *doctor) fail(name string, err error) {
	what, fix, _ := strings.Cut(explain(err, d.command, d.o.settings).msg, "\n")
	d.report(name, verdictFail, what, fix)
}

func (d *doctor) configuration() {
	s := d.o.settings
	if strings.TrimSpace(s.ClientID) == "" && s.Cred.Kind != auth.CredentialManagedIdentity {
		d.report("configuration", verdictFail, "no client id is set",
			"Pass the app registration's Application (client) ID with --client-id or MAPSDEVICE_CLIENT_ID;\n'mapsdevice login --help' and 'Setting up a real tenant' in the README say how to register one.")
		return
	}
	if s.Cred.Kind == auth.CredentialManagedIdentity {
		d.report("configuration", verdictPass, "managed identity "+orSystem(s.Cred.ManagedIdentity), "")
		return
	}
	tenant := tenantOf(s)
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers", "":
		d.report("configuration", verdictWarn, fmt.Sprintf("client id %s, tenant %q: any tenant", s.ClientID, tenant),
			"A single-tenant app must name its tenant (AADSTS50194 otherwise): pass --tenant with your tenant id or domain.")
	default:
		d.report("configuration", verdictPass, fmt.Sprintf("client id %s, tenant %s", s.ClientID, tenant), "")
	}
}

func orSystem(sel string) string {
	if sel == "" {
		return "system-assigned"
	}
	return sel
}

// openIDMetadata is the part of the OpenID configuration the device code
// flow needs.
type openIDMetadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	DeviceCode    string `json:"device_authorization_endpoint"`
}

// authority fetches the OpenID metadata and returns the server's Date and
// the local time it came, for the clock check.
func (d *doctor) authority(ctx context.Context) (serverDate, localDate time.Time) {
	s := d.o.settings
	if s.Cred.Kind == auth.CredentialManagedIdentity {
		d.report("authority", verdictSkip, "a managed identity gets its tokens from the machine's endpoint", "")
		return
	}
	authority, err := (auth.Config{Authority: s.Authority, Tenant: s.Tenant}).ResolveAuthority()
	if err != nil {
		d.report("authority", verdictFail, err.Error(), "Fix --authority (or --tenant).")
		return
	}
	tr, err := newTransport(s.CAFile)
	if err != nil {
		d.fail("authority", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(authority, "/")+"/v2.0/.well-known/openid-configuration", nil)
	if err != nil {
		d.report("authority", verdictFail, err.Error(), "Fix --authority (or --tenant).")
		return
	}
	proxy := "no proxy"
	if u, err := http.ProxyFromEnvironment(req); err == nil && u != nil {
		proxy = "proxy " + u.Redacted()
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		d.fail("authority", authorityError(err))
		return
	}
	defer resp.Body.Close()
	localDate = time.Now()
	serverDate, _ = http.ParseTime(resp.Header.Get("Date"))
	var meta openIDMetadata
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &meta) != nil || meta.TokenEndpoint == "" {
		d.report("authority", verdictFail, fmt.Sprintf("%s answered HTTP %d without OpenID metadata (%s)", authority, resp.StatusCode, proxy),
			"Check --tenant (or --authority): the tenant may not exist.")
		return
	}
	tlsInfo := "no TLS"
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		tlsInfo = fmt.Sprintf("TLS certificate from %q", resp.TLS.PeerCertificates[0].Issuer.CommonName)
	}
	if meta.DeviceCode == "" {
		d.report("authority", verdictFail, authority+" offers no device code endpoint", "Use an Entra ID authority, https://login.microsoftonline.com/TENANT.")
		return
	}
	d.report("authority", verdictPass, fmt.Sprintf("%s reachable, %s, %s; issuer %s", authority, tlsInfo, proxy, meta.Issuer), "")
	return serverDate, localDate
}

// authorityError sorts a failed request as a sign-in would be, so the
// fix reads the same.
func authorityError(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) {
		return &auth.Error{Kind: auth.KindUntrusted, Reason: "the identity service's TLS certificate is not trusted", Err: err}
	}
	return &auth.Error{Kind: auth.KindNetwork, Reason: "the identity service could not be reached", Err: err}
}

// clockSkewLimit is how far Entra ID lets a clock be off (assertions and
// token lifetimes allow 5 minutes).
const clockSkewLimit = 5 * time.Minute

func (d *doctor) clock(serverDate, localDate time.Time) {
	if serverDate.IsZero() {
		d.report("clock", verdictSkip, "no answer from the authority to compare with", "")
		return
	}
	// Date counts whole seconds: a second either way is noise.
	skew := localDate.Sub(serverDate).Truncate(time.Second)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	detail := fmt.Sprintf("this clock is %s %s the authority's", abs, map[bool]string{true: "ahead of", false: "behind"}[skew >= 0])
	switch {
	case abs <= time.Second:
		d.report("clock", verdictPass, "this clock agrees with the authority's", "")
	case abs > clockSkewLimit:
		d.report("clock", verdictFail, detail, "Set the clock: turn on time sync (timedatectl set-ntp true), or check the NTP server.")
	case abs > time.Minute:
		d.report("clock", verdictWarn, detail, "Turn on time sync (timedatectl set-ntp true) before it drifts further.")
	default:
		d.report("clock", verdictPass, detail, "")
	}
}

func (d *doctor) tokenStore(ctx context.Context) *signedIn {
	s := d.o.settings
	si, err := s.open(ctx)
	if err != nil {
		d.fail("token store", err)
		return nil
	}
	kind := si.choice.Store.Kind()
	detail := fmt.Sprintf("%s: %s", si.storeName(), si.choice.Store.Location())
	ring := tokenstore.Probe(ctx, tokenstore.OSKeyring{Timeout: 3 * time.Second})
	if ring != nil {
		if kind == tokenstore.KindKeyring {
			d.report("token store", verdictFail, detail+"; the keyring does not answer: "+ring.Error(),
				"Unlock the keyring (over SSH there is often no D-Bus session), or use --token-store file.")
			return &si
		}
		detail += "; no keyring answers"
	}
	if bad := looseModes(s.Home, s.Profile); bad != "" {
		d.report("token store", verdictFail, detail+"; "+bad, "Let only this user read it: chmod 700 the folder and chmod 600 the files in it.")
		return &si
	}
	d.report("token store", verdictPass, detail, "")
	return &si
}

// looseModes names a token file or the state folder that others may read
// or write, or returns "".
func looseModes(home, profile string) string {
	if fi, err := os.Stat(home); err == nil && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("the state folder %s is writable by others (mode %04o)", home, fi.Mode().Perm())
	}
	for _, ext := range []string{".json", ".sealed"} {
		p := filepath.Join(home, profile+ext)
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return fmt.Sprintf("%s is open to others (mode %04o)", p, fi.Mode().Perm())
		}
	}
	return ""
}

// signInWarnDays is when a sign-in close to lapsing is worth a warning.
const signInWarnDays = 14

func (d *doctor) signIn(ctx context.Context, si *signedIn) {
	if si == nil {
		d.report("sign-in", verdictSkip, "no token store", "")
		return
	}
	// The window as stored, before a silent token may renew it.
	last, _ := si.client.LastRenewed(ctx)
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	res, err := si.client.Token(ctx)
	if err != nil {
		d.fail("sign-in", err)
		return
	}
	who := res.Account.Username
	if last.IsZero() {
		d.report("sign-in", verdictPass, who+" signed in", "")
		return
	}
	left := auth.DaysLeft(last, time.Now())
	detail := fmt.Sprintf("%s; refresh token last redeemed %s, %d of 90 days left", who, formatTime(last), left)
	if renewed, err := si.client.LastRenewed(ctx); err == nil && renewed.After(last) {
		detail += fmt.Sprintf(" (renewed just now: %d days)", auth.DaysLeft(renewed, time.Now()))
		left = auth.DaysLeft(renewed, time.Now())
	}
	if left < signInWarnDays {
		d.report("sign-in", verdictWarn, detail, "Redeem it at least weekly: run 'mapsdevice token' or the mapsdevice-renew timer.")
		return
	}
	d.report("sign-in", verdictPass, detail, "")
}

func (d *doctor) credential(ctx context.Context) {
	s := d.o.settings
	cred, _, err := s.credential(ctx, d.stdio)
	if err != nil {
		d.fail("credential", err)
		return
	}
	id := cred.Identity()
	from := credentialSource(s, id)
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	res, err := cred.AccessToken(ctx, "", false)
	if err != nil {
		d.fail("credential", err)
		return
	}
	d.report("credential", verdictPass, fmt.Sprintf("%s from %s; a token for app %s in tenant %s", id.Kind, from, res.Claims.AppID, res.Claims.TenantID), "")
}

// credentialSource says where an app credential is read from.
func credentialSource(s settings, id auth.Identity) string {
	switch id.Kind {
	case auth.CredentialClientSecret:
		switch {
		case s.Cred.SecretFile != "":
			return "file " + s.Cred.SecretFile
		case os.Getenv(EnvPrefix+"_CLIENT_SECRET") != "":
			return EnvPrefix + "_CLIENT_SECRET"
		default:
			return "systemd credential client-secret"
		}
	case auth.CredentialClientCertificate:
		return "file " + s.Cred.Certificate
	case auth.CredentialWorkloadIdentity:
		return "token file " + s.Cred.federatedTokenFile()
	case auth.CredentialManagedIdentity:
		return id.ManagedIdentitySource
	}
	return "?"
}

// probeUDID names no map data: deleting it is refused (403) when writes
// are, and otherwise answered as unknown (400 or 404). Nothing changes.
const probeUDID = "00000000-0000-4000-8000-000000000000"

func (d *doctor) mapsAccess(ctx context.Context) {
	m := d.o.maps
	if m.ClientID == "" && m.Key == "" && m.KeyFile == "" && m.KeyFromVault == "" {
		d.report("maps", verdictSkip, "no --maps-client-id or key set: Azure Maps not checked", "")
		return
	}
	c, err := m.client(ctx, d.stdio, d.o.settings, nil)
	if err != nil {
		d.fail("maps", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	list, err := c.List(ctx)
	if err != nil {
		d.fail("maps", err)
		return
	}
	detail := fmt.Sprintf("%s: reads work (%d map data item(s))", c.Endpoint(), len(list))
	err = c.Delete(ctx, probeUDID)
	var api *azmaps.APIError
	switch {
	case errors.As(err, &api) && (api.Status == http.StatusNotFound || api.Status == http.StatusBadRequest):
		d.report("maps", verdictPass, detail+"; writes allowed", "")
	case errors.As(err, &api) && api.Status == http.StatusForbidden:
		d.report("maps", verdictWarn, detail+"; writes would be refused (403)",
			"To upload or delete geofences, give the account Azure Maps Data Contributor on the Maps account.")
	case err == nil:
		d.report("maps", verdictPass, detail+"; writes allowed", "")
	default:
		what, fix, _ := strings.Cut(explain(err, d.command, d.o.settings).msg, "\n")
		d.report("maps", verdictWarn, detail+"; could not tell whether writes are allowed: "+what, fix)
	}
}
