package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
	"github.com/mapsdevice/mapsdevice/internal/sink"
)

type reportOptions struct {
	mapsOptions
	Input         string
	Follow        bool
	Simulate      bool
	Rate          float64
	Count         int
	DeviceID      string
	BatchSize     int
	MaxDelay      time.Duration
	SpoolMax      int
	SpoolFull     string
	GeofenceUDID  string
	GeofenceFile  string
	LocalGeofence string
	LogFormat     string
	SignInRetry   time.Duration
	Status        bool
	InFlight      int
	MaxFuture     time.Duration
	Sink          sinkSettings
}

// sinkSettings are the flag group that says where batches go.
type sinkSettings struct {
	Name        string
	BlobURL     string
	EventHubURL string
	HTTPSURL    string
	HTTPSScope  string
}

// The sinks, by --sink name.
const (
	sinkMapsData  = "maps-data"
	sinkBlob      = "blob"
	sinkEventHubs = "eventhubs"
	sinkHTTPS     = "https"
)

func (k *sinkSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&k.Name, "sink", sinkMapsData, "where batches go: maps-data (Azure Maps Data v2 or the emulator), blob (Azure Blob Storage), eventhubs (Azure Event Hubs, at-least-once: deduplicate by readingId) or https (your own API)")
	fs.StringVar(&k.BlobURL, "blob-url", "", "with --sink blob: the container, https://ACCOUNT.blob.core.windows.net/CONTAINER")
	fs.StringVar(&k.EventHubURL, "eventhub-url", "", "with --sink eventhubs: the hub, https://NAMESPACE.servicebus.windows.net/HUB")
	fs.StringVar(&k.HTTPSURL, "https-url", "", "with --sink https: where batches are posted (HTTPS)")
	fs.StringVar(&k.HTTPSScope, "https-scope", "", "with --sink https: your API's application ID URI, such as api://APP-ID; a person's token asks for its user_impersonation scope, an app's for .default")
}

// check says what is wrong with the group before anything starts.
func (k sinkSettings) check() error {
	need := map[string]struct{ flag, value string }{
		sinkBlob:      {"blob-url", k.BlobURL},
		sinkEventHubs: {"eventhub-url", k.EventHubURL},
		sinkHTTPS:     {"https-url", k.HTTPSURL},
	}
	switch k.Name {
	case sinkMapsData:
		return nil
	case sinkBlob, sinkEventHubs, sinkHTTPS:
	default:
		return usageError{fmt.Errorf("--sink %q: use maps-data, blob, eventhubs or https", k.Name)}
	}
	if n := need[k.Name]; n.value == "" {
		return usageError{fmt.Errorf("--sink %s needs --%s", k.Name, n.flag)}
	}
	if k.Name == sinkHTTPS {
		return checkAppIDURI(k.HTTPSScope)
	}
	return nil
}

// checkAppIDURI says what is wrong with --https-scope. The credential
// makes the scope from the URI (URI/user_impersonation for a person,
// URI/.default for an app), so a scope given whole would be asked for
// as URI/Readings.Write/user_impersonation, which Entra ID refuses with
// a message that does not point here.
func checkAppIDURI(uri string) error {
	const hint = "give your API's application ID URI (Expose an API in its app registration), such as api://APP-ID"
	if uri == "" {
		return usageError{errors.New("--sink https needs --https-scope: " + hint)}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return usageError{fmt.Errorf("--https-scope %q is not a URI: %s", uri, hint)}
	}
	last := path.Base(u.Path)
	switch {
	case last == ".default" || last == "user_impersonation":
		return usageError{fmt.Errorf("--https-scope %q: leave out /%s, mapsdevice adds the scope: %s", uri, last, hint)}
	case u.Path != "" && strings.Contains(last, "."):
		return usageError{fmt.Errorf("--https-scope %q looks like a scope (%s): %s; a person's token asks for its user_impersonation scope", uri, last, hint)}
	}
	return nil
}

// build makes the sink; maps is the Maps client, made only for maps-data.
func (k sinkSettings) build(ctx context.Context, stdio Stdio, s settings, maps func() (*azmaps.Client, error), log *slog.Logger) (report.Sink, error) {
	if k.Name == sinkMapsData {
		client, err := maps()
		if err != nil {
			return nil, err
		}
		return report.NewMapsData(client, log), nil
	}
	cred, _, err := s.credential(ctx, stdio)
	if err != nil {
		return nil, err
	}
	tr, err := newTransport(s.CAFile)
	if err != nil {
		return nil, err
	}
	var out report.Sink
	switch k.Name {
	case sinkBlob:
		out, err = sink.NewBlob(sink.BlobConfig{URL: k.BlobURL, Tokens: cred, Transport: tr, Logger: log})
	case sinkEventHubs:
		out, err = sink.NewEventHubs(sink.EventHubsConfig{URL: k.EventHubURL, Tokens: cred, Transport: tr, Logger: log})
	default:
		out, err = sink.NewHTTPS(sink.HTTPSConfig{URL: k.HTTPSURL, Scope: k.HTTPSScope, Tokens: cred, Transport: tr, Logger: log})
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("--sink %s: %w", k.Name, err)}
	}
	return out, nil
}

// The ranges of report's numbers.
const (
	minRate, maxRate = 0.001, 1_000_000 // readings per second
	maxBatchSize     = 100_000
)

func newReportCmd(stdio Stdio) *ffcli.Command {
	var o reportOptions
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "report",
			ShortUsage: "mapsdevice report [flags] < readings.ndjson",
			ShortHelp:  "deliver sensor readings to a sink, losing none",
			LongHelp: strings.TrimSpace(`
Read sensor readings as NDJSON, one per line:
  {"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"deviceId":"pi-1"}
commit each to a spool on disk, and deliver them in batches to the sink
--sink names: maps-data (Azure Maps Data v2 or the emulator), blob (Azure
Blob Storage), eventhubs (Azure Event Hubs; at-least-once, deduplicate by
each reading's readingId) or https (your own API), through network loss,
token expiry and crashes. Batches are sealed before their first send and
sent again unchanged after a crash; up to --in-flight go at once. Lines
that are not valid readings, and readings the destination refuses, go to
deadletter.ndjson with the reason. Enter and exit events for the geofences
go to stdout as NDJSON. When the input ends, what is spooled is delivered
and report exits 0; SIGTERM stops it within seconds with nothing lost.
--input FILE --follow follows the file through rotation and truncation,
as tail -F does, and goes on after a restart where it stopped.

State (spool, dead letters, status.json) lives in <home>/report.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.register(fs, "with --status, the status as JSON; errors as JSON events")
			fs.StringVar(&o.Input, "input", "-", "readings as NDJSON: a file, a FIFO, or - for standard input")
			fs.BoolVar(&o.Follow, "follow", false, "keep reading the file as it grows, is rotated or truncated, like tail -F; a restart goes on where it stopped")
			fs.BoolVar(&o.Simulate, "simulate", false, "read from a built-in simulated device instead")
			fs.Float64Var(&o.Rate, "rate", 10, "readings per second of the simulated device (0.001 to 1000000)")
			fs.IntVar(&o.Count, "count", 0, "readings the simulated device makes (0: without end)")
			fs.StringVar(&o.DeviceID, "device-id", "", "device id for readings without one (default: the host name)")
			fs.IntVar(&o.BatchSize, "batch-size", 1000, "most readings per upload (1 to 100000); a batch goes sooner when --max-delay passes")
			fs.DurationVar(&o.MaxDelay, "max-delay", 5*time.Second, "longest a reading waits for its batch to fill")
			fs.IntVar(&o.SpoolMax, "spool-max", 1_000_000, "readings kept on disk at most")
			fs.StringVar(&o.SpoolFull, "spool-full", "drop-oldest", "when the spool is full: drop-oldest or block")
			fs.StringVar(&o.GeofenceUDID, "geofence-udid", "", "check each reading against uploaded fences (Spatial GET)")
			fs.StringVar(&o.GeofenceFile, "geofence-file", "", "check each reading against a local file, sent to the service (POST)")
			fs.StringVar(&o.LocalGeofence, "local-geofence", "", "check each reading against a local file on the device, with no network")
			fs.StringVar(&o.LogFormat, "log-format", "text", "logs on stderr as text or json")
			fs.DurationVar(&o.SignInRetry, "signin-retry", 30*time.Second, "how often delivery tries again while sign-in is needed")
			fs.BoolVar(&o.Status, "status", false, "show the spool and delivery status of this state folder, and exit")
			fs.IntVar(&o.InFlight, "in-flight", 8, "batches on their way at once, acknowledged in order (1 to 64)")
			fs.DurationVar(&o.MaxFuture, "max-future", 24*time.Hour, "readings timed further ahead of this device's clock go to the dead-letter file")
			o.Sink.register(fs)
		},
		run: func(ctx context.Context, _ []string) error { return runReport(ctx, stdio, o) },
	})
}

func (o reportOptions) stateDir() string { return filepath.Join(o.Home, "report") }

// check says what is wrong with the flags, before anything starts.
func (o reportOptions) check() error {
	err := firstError(
		inRange("rate", o.Rate, minRate, maxRate),
		atLeast("count", int64(o.Count), 0),
		intRange("batch-size", int64(o.BatchSize), 1, maxBatchSize),
		positive("max-delay", o.MaxDelay),
		atLeast("spool-max", int64(o.SpoolMax), 1),
		positive("signin-retry", o.SignInRetry),
		intRange("in-flight", int64(o.InFlight), 1, 64),
		positive("max-future", o.MaxFuture),
		o.Sink.check(),
	)
	switch {
	case err != nil:
		return err
	case o.SpoolFull != string(spool.DropOldest) && o.SpoolFull != string(spool.Block):
		return usageError{fmt.Errorf("--spool-full %q: use drop-oldest or block", o.SpoolFull)}
	case o.LogFormat != "text" && o.LogFormat != "json":
		return usageError{fmt.Errorf("--log-format %q: use text or json", o.LogFormat)}
	}
	sources := 0
	for _, s := range []string{o.GeofenceUDID, o.GeofenceFile, o.LocalGeofence} {
		if s != "" {
			sources++
		}
	}
	if sources > 1 {
		return usageError{errors.New("use one of --geofence-udid, --geofence-file and --local-geofence")}
	}
	return nil
}

func runReport(ctx context.Context, stdio Stdio, o reportOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.Status {
		return printReportStatus(stdio, o)
	}
	var handler slog.Handler = slog.NewTextHandler(stdio.logs(), nil)
	if o.LogFormat == "json" {
		handler = slog.NewJSONHandler(stdio.logs(), nil)
	}
	log := slog.New(handler)
	if o.DeviceID == "" {
		o.DeviceID, _ = os.Hostname()
	}
	// Local files are read before any network use, so a bad one is said
	// first.
	var localFences []geofence.Fence
	var fenceBody []byte
	var err error
	switch {
	case o.LocalGeofence != "":
		_, localFences, err = readFences("--local-geofence", o.LocalGeofence, nil)
	case o.GeofenceFile != "":
		fenceBody, _, err = readFences("--geofence-file", o.GeofenceFile, nil)
	}
	if err != nil {
		return err
	}
	if !o.Simulate && o.Input != "-" {
		// Only looked at: opening a FIFO waits for its writer.
		if err := notAFolder("--input", o.Input); err != nil {
			return err
		}
	}
	// The Maps client is made once, and only when something uses it.
	var client *azmaps.Client
	mapsClient := func() (*azmaps.Client, error) {
		if client != nil {
			return client, nil
		}
		var err error
		client, err = o.client(ctx, stdio, nil)
		return client, err
	}
	dest, err := o.Sink.build(ctx, stdio, o.settings, mapsClient, log)
	if err != nil {
		return err
	}
	var fences report.Fencer
	switch {
	case o.LocalGeofence != "":
		fences = report.NewLocalFences(localFences)
	case o.GeofenceFile != "", o.GeofenceUDID != "":
		c, err := mapsClient()
		if err != nil {
			return err
		}
		fences = report.ServiceFences{Client: c, Body: fenceBody, UDID: o.GeofenceUDID}
	}
	// The input is opened before the state folder is made, so a bad one
	// leaves nothing behind.
	in, stop, err := o.input(ctx, stdio)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for a FIFO's writer
		}
		return err
	}
	defer stop()
	// The sign-in is renewed weekly even when no reading needs a token.
	alarm, stopRenewal := startSignInRenewal(ctx, stdio, o.settings, log)
	defer stopRenewal()
	r, err := report.New(report.Options{
		StateDir: o.stateDir(), DeviceID: o.DeviceID, BatchSize: o.BatchSize, MaxDelay: o.MaxDelay,
		SpoolMax: o.SpoolMax, SpoolFull: spool.Policy(o.SpoolFull), SignInRetry: o.SignInRetry, Follow: o.Follow,
		InFlight: o.InFlight, MaxFuture: o.MaxFuture,
		OnSignInNeeded: func(err error) {
			if errors.Is(err, report.ErrForbidden) {
				log.Error("to resume delivery, give the identity in use the data role the error names on the destination; delivery retries by itself")
				return
			}
			if o.Cred.app() {
				log.Error("to resume delivery, give the app or managed identity an Azure Maps data role, or fix the shared key")
				return
			}
			alarm.raise(err)
			log.Error("to resume delivery, run 'mapsdevice login' as this user, with the same --home and --profile")
		},
	}, dest, fences, stdio.Out, log)
	if err != nil {
		if in != nil {
			in.Close() // Run would have closed it
		}
		return storageError(err)
	}
	defer r.Close()
	where := []any{"device", o.DeviceID, "sink", dest.Name(), "state", o.stateDir()}
	if client != nil {
		where = append(where, "endpoint", client.Endpoint())
	}
	log.Info("reporting", where...)
	if in == nil {
		err = r.RunFile(ctx, o.Input)
	} else {
		err = r.Run(ctx, in)
	}
	if err != nil {
		return storageError(err)
	}
	st, _ := report.ReadStatus(o.stateDir())
	log.Info("stopped", "spooled", st.Depth, "delivered", st.Delivered, "dropped", st.Dropped, "dead_lettered", st.DeadLettered)
	return nil // stopping by signal is a normal end for a service
}

// readFences reads a local geofence file named by a flag (what), or, for
// "-" when stdin is given, stdin; and checks it: one that breaks the rules
// is invalid input (exit 65).
func readFences(what, path string, stdin io.Reader) ([]byte, []geofence.Fence, error) {
	in := stdin
	if path != "-" || stdin == nil {
		f, _, err := openLocal(what, path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, geofence.MaxUploadSize+1))
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("%s: %w", what, err)}
	}
	if len(data) > geofence.MaxUploadSize {
		return nil, nil, &exitError{code: ExitData, errCode: "too_large", msg: fmt.Sprintf(
			"%s %s is over 100 MB, the most Azure Maps takes. Split the fences into several files.", what, path)}
	}
	fences, err := geofence.ParseBytes(data)
	var inv *geofence.InvalidError
	if errors.As(err, &inv) {
		return nil, nil, invalidGeoJSON(what+" "+path, inv)
	}
	return data, fences, err
}

// simulated is a simulated device writing readings into a pipe. Run reads
// and closes it; stop, once Run has returned, ends the device and waits
// for it.
func simulated(ctx context.Context, device string, rate float64, count int) (in io.ReadCloser, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(report.Simulate(ctx, pw, device, rate, count))
	}()
	return pr, func() { cancel(); pr.Close(); <-done }
}

// storageError is a failure of the state folder (spool, dead-letter
// file): exit 1, with what to do.
func storageError(err error) error {
	var ee *exitError
	if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
		return err
	}
	return &exitError{code: ExitError, errCode: "storage", msg: "Error: " + err.Error() + ".\n" +
		"The reporter keeps its state in this folder; it must be a folder of this user's, on a disk with free space, with no links planted in it."}
}

// input opens where readings come from. Run closes it; stop, once Run
// has returned, ends the simulated device and waits for it. A regular
// file gives no reader: RunFile reads it by name, to follow it and keep
// its checkpoint.
func (o reportOptions) input(ctx context.Context, stdio Stdio) (in io.ReadCloser, stop func(), err error) {
	switch {
	case o.Simulate:
		in, stop := simulated(ctx, o.DeviceID, o.Rate, o.Count)
		return in, stop, nil
	case o.Input == "-":
		in, err := report.Interruptible(stdio.In)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--input: %w", err)}
		}
		return in, func() {}, nil
	}
	if fi, err := os.Stat(o.Input); err == nil && fi.Mode().IsRegular() {
		f, _, err := openLocal("--input", o.Input)
		if err != nil {
			return nil, nil, err
		}
		f.Close()
		return nil, func() {}, nil
	}
	f, err := report.OpenInput(ctx, o.Input)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, usageError{fmt.Errorf("--input: %w", err)}
	}
	return f, func() {}, nil
}

func printReportStatus(stdio Stdio, o reportOptions) error {
	st, err := report.ReadStatus(o.stateDir())
	if err != nil {
		return &exitError{code: ExitError, errCode: "no_status", msg: capitalize(err.Error()) + ".\nStart one with 'mapsdevice report', or give the same --home it uses."}
	}
	// A status left "running" by a process that is gone is a stopped one.
	st.Running = st.Running && processAlive(st.PID)
	if o.JSON {
		writeEvent(stdio.Out, reportStatusEvent{Event: "report_status", Status: st})
		return nil
	}
	state := "stopped"
	if st.Running {
		state = fmt.Sprintf("running (pid %d)", st.PID)
	}
	w := stdio.Out
	fmt.Fprintf(w, "Reporter:      %s, status from %s\n", state, st.Updated.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(w, "Spooled:       %d readings", st.Depth)
	if !st.Oldest.IsZero() {
		fmt.Fprintf(w, ", oldest accepted %s ago", time.Since(st.Oldest).Round(time.Second))
	}
	fmt.Fprintf(w, "\nDelivered:     %d\nDropped:       %d (spool full)\nDead-lettered: %d (see %s)\n", st.Delivered, st.Dropped, st.DeadLettered, report.DeadLetterPath(o.stateDir()))
	if !st.LastSuccess.IsZero() {
		fmt.Fprintf(w, "Last success:  %s\n", st.LastSuccess.Local().Format("2006-01-02 15:04:05"))
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "Last error:    %s: %s\n", st.LastErrorAt.Local().Format("2006-01-02 15:04:05"), st.LastError)
	}
	if d := st.Damaged; d != nil {
		lost := "unknown"
		if d.Lost != nil {
			lost = fmt.Sprint(*d.Lost)
		}
		fmt.Fprintf(w, "Damaged spool: moved aside to %s at %s (%s); readings lost: %s\n", d.Path, d.At.Local().Format("2006-01-02 15:04:05"), d.Reason, lost)
	}
	return nil
}

// processAlive reports whether a process exists (signal 0 asks without
// sending anything).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}
