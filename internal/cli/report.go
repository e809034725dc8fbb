package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
	"github.com/mapsdevice/mapsdevice/internal/report"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
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
			ShortHelp:  "deliver sensor readings to Azure Maps, losing none",
			LongHelp: strings.TrimSpace(`
Read sensor readings as NDJSON, one per line:
  {"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"deviceId":"pi-1"}
commit each to a spool on disk, and deliver them in batches to Azure Maps
(Data v2 uploads, each described with its batch id), through network loss,
token expiry and crashes. Bad lines go to deadletter.ndjson with their line
number and reason. Enter and exit events for the geofences go to stdout as
NDJSON. When the input ends, what is spooled is delivered and report exits
0; SIGTERM stops it within seconds with nothing lost.

State (spool, dead letters, status.json) lives in <home>/report.`),
		},
		flags: func(fs *flag.FlagSet) {
			o.register(fs, "with --status, the status as JSON; errors as JSON events")
			fs.StringVar(&o.Input, "input", "-", "readings as NDJSON: a file, a FIFO, or - for standard input")
			fs.BoolVar(&o.Follow, "follow", false, "keep reading the file as it grows, like tail -f")
			fs.BoolVar(&o.Simulate, "simulate", false, "read from a built-in simulated device instead")
			fs.Float64Var(&o.Rate, "rate", 10, "readings per second of the simulated device (0.001 to 1000000)")
			fs.IntVar(&o.Count, "count", 0, "readings the simulated device makes (0: without end)")
			fs.StringVar(&o.DeviceID, "device-id", "", "device id for readings without one (default: the host name)")
			fs.IntVar(&o.BatchSize, "batch-size", 500, "readings per upload (1 to 100000)")
			fs.DurationVar(&o.MaxDelay, "max-delay", 5*time.Second, "longest a reading waits for its batch to fill")
			fs.IntVar(&o.SpoolMax, "spool-max", 1_000_000, "readings kept on disk at most")
			fs.StringVar(&o.SpoolFull, "spool-full", "drop-oldest", "when the spool is full: drop-oldest or block")
			fs.StringVar(&o.GeofenceUDID, "geofence-udid", "", "check each reading against uploaded fences (Spatial GET)")
			fs.StringVar(&o.GeofenceFile, "geofence-file", "", "check each reading against a local file, sent to the service (POST)")
			fs.StringVar(&o.LocalGeofence, "local-geofence", "", "check each reading against a local file on the device, with no network")
			fs.StringVar(&o.LogFormat, "log-format", "text", "logs on stderr as text or json")
			fs.DurationVar(&o.SignInRetry, "signin-retry", 30*time.Second, "how often delivery tries again while sign-in is needed")
			fs.BoolVar(&o.Status, "status", false, "show the spool and delivery status of this state folder, and exit")
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
	client, err := o.client(ctx, stdio, nil)
	if err != nil {
		return err
	}
	var fences report.Fencer
	switch {
	case o.LocalGeofence != "":
		fences = report.NewLocalFences(localFences)
	case o.GeofenceFile != "":
		fences = report.ServiceFences{Client: client, Body: fenceBody}
	case o.GeofenceUDID != "":
		fences = report.ServiceFences{Client: client, UDID: o.GeofenceUDID}
	}
	// The input is opened before the state folder is made, so a bad one
	// leaves nothing behind.
	in, stop, err := o.input(ctx, stdio)
	if err != nil {
		return err
	}
	defer stop()
	r, err := report.New(report.Options{
		StateDir: o.stateDir(), DeviceID: o.DeviceID, BatchSize: o.BatchSize, MaxDelay: o.MaxDelay,
		SpoolMax: o.SpoolMax, SpoolFull: spool.Policy(o.SpoolFull), SignInRetry: o.SignInRetry, Follow: o.Follow,
		OnSignInNeeded: func(error) {
			if o.Cred.app() {
				log.Error("to resume delivery, give the app or managed identity an Azure Maps data role, or fix the shared key")
				return
			}
			log.Error("to resume delivery, run 'mapsdevice login' as this user, with the same --home and --profile")
		},
	}, client, fences, stdio.Out, log)
	if err != nil {
		in.Close() // Run would have closed it
		return err
	}
	defer r.Close()
	log.Info("reporting", "device", o.DeviceID, "endpoint", client.Endpoint(), "state", o.stateDir())
	if err := r.Run(ctx, in); err != nil {
		return err
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

// input opens where readings come from. Run closes it; stop, once Run
// has returned, ends the simulated device and waits for it.
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
	f, _, err := openLocal("--input", o.Input)
	if err != nil {
		return nil, nil, err
	}
	return f, func() {}, nil
}

func printReportStatus(stdio Stdio, o reportOptions) error {
	st, err := report.ReadStatus(o.stateDir())
	if err != nil {
		return &exitError{code: ExitError, errCode: "no_status", msg: capitalize(err.Error()) + ".\nStart one with 'mapsdevice report', or give the same --home it uses."}
	}
	if o.JSON {
		writeEvent(stdio.Out, reportStatusEvent{Event: "report_status", Status: st})
		return nil
	}
	state := "stopped"
	if st.Running && processAlive(st.PID) {
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
	return nil
}

// processAlive reports whether a process exists (signal 0 asks without
// sending anything).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}
