package cli

import (
	"context"
	"errors"
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
	mapsSettings
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

func newReportCmd(stdio Stdio) *ffcli.Command {
	var o reportOptions
	fs := newFlagSet("report", stdio)
	o.registerMaps(fs)
	fs.StringVar(&o.Input, "input", "-", "readings as NDJSON: a file, a FIFO, or - for standard input")
	fs.BoolVar(&o.Follow, "follow", false, "keep reading the file as it grows, like tail -f")
	fs.BoolVar(&o.Simulate, "simulate", false, "read from a built-in simulated device instead")
	fs.Float64Var(&o.Rate, "rate", 10, "readings per second of the simulated device")
	fs.IntVar(&o.Count, "count", 0, "readings the simulated device makes (0: without end)")
	fs.StringVar(&o.DeviceID, "device-id", "", "device id for readings without one (default: the host name)")
	fs.IntVar(&o.BatchSize, "batch-size", 500, "readings per upload")
	fs.DurationVar(&o.MaxDelay, "max-delay", 5*time.Second, "longest a reading waits for its batch to fill")
	fs.IntVar(&o.SpoolMax, "spool-max", 1_000_000, "readings kept on disk at most")
	fs.StringVar(&o.SpoolFull, "spool-full", "drop-oldest", "when the spool is full: drop-oldest or block")
	fs.StringVar(&o.GeofenceUDID, "geofence-udid", "", "check each reading against uploaded fences (Spatial GET)")
	fs.StringVar(&o.GeofenceFile, "geofence-file", "", "check each reading against a local file, sent to the service (POST)")
	fs.StringVar(&o.LocalGeofence, "local-geofence", "", "check each reading against a local file on the device, with no network")
	fs.StringVar(&o.LogFormat, "log-format", "text", "logs on stderr as text or json")
	fs.DurationVar(&o.SignInRetry, "signin-retry", 30*time.Second, "how often delivery tries again while sign-in is needed")
	fs.BoolVar(&o.Status, "status", false, "show the spool and delivery status of this state folder, and exit")
	return &ffcli.Command{
		Name:       "report",
		ShortUsage: "mapsdevice report [flags] < readings.ndjson",
		ShortHelp:  "deliver sensor readings to Azure Maps, losing none",
		LongHelp: strings.TrimSpace(`
Read sensor readings as NDJSON, one per line:
  {"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"deviceId":"pi-1","temperature":21.5}
commit each to a spool on disk, and deliver them in batches to Azure Maps
(Data v2 uploads, each described with its batch id), through network loss,
token expiry and crashes. Bad lines go to deadletter.ndjson with their line
number and reason. Enter and exit events for the geofences go to stdout as
NDJSON. When the input ends, what is spooled is delivered and report exits
0; SIGTERM stops it within seconds with nothing lost.

State (spool, dead letters, status.json) lives in <home>/report.`),
		FlagSet:   fs,
		UsageFunc: usage,
		Options:   parseOptions(),
		Exec: noArgs(stdio, "report", &o.settings, &o.JSON, func(ctx context.Context) error {
			return runReport(ctx, stdio, o)
		}),
	}
}

func (o reportOptions) stateDir() string { return filepath.Join(o.Home, "report") }

func runReport(ctx context.Context, stdio Stdio, o reportOptions) error {
	if o.Status {
		return printReportStatus(stdio, o)
	}
	var handler slog.Handler
	switch o.LogFormat {
	case "text":
		handler = slog.NewTextHandler(stdio.Err, nil)
	case "json":
		handler = slog.NewJSONHandler(stdio.Err, nil)
	default:
		return usageError{fmt.Errorf("--log-format %q: use text or json", o.LogFormat)}
	}
	log := slog.New(handler)
	if o.DeviceID == "" {
		o.DeviceID, _ = os.Hostname()
	}
	geofenceSources := 0
	for _, s := range []string{o.GeofenceUDID, o.GeofenceFile, o.LocalGeofence} {
		if s != "" {
			geofenceSources++
		}
	}
	if geofenceSources > 1 {
		return usageError{errors.New("use one of --geofence-udid, --geofence-file and --local-geofence")}
	}
	client, err := o.mapsClient(ctx, stdio, nil)
	if err != nil {
		return err
	}
	var fences report.Fencer
	switch {
	case o.LocalGeofence != "":
		f, err := loadFences(o.LocalGeofence)
		if err != nil {
			return err
		}
		fences = report.LocalFences(f)
	case o.GeofenceFile != "":
		data, err := os.ReadFile(o.GeofenceFile)
		if err != nil {
			return usageError{fmt.Errorf("--geofence-file: %w", err)}
		}
		if _, err := geofence.ParseBytes(data); err != nil {
			return err
		}
		fences = report.ServiceFences{Client: client, Body: data}
	case o.GeofenceUDID != "":
		fences = report.ServiceFences{Client: client, UDID: o.GeofenceUDID}
	}
	in, err := o.input(ctx, stdio)
	if err != nil {
		return err
	}
	r, err := report.New(report.Options{
		StateDir: o.stateDir(), DeviceID: o.DeviceID, BatchSize: o.BatchSize, MaxDelay: o.MaxDelay,
		SpoolMax: o.SpoolMax, SpoolFull: spool.Policy(o.SpoolFull), SignInRetry: o.SignInRetry, Follow: o.Follow,
	}, client, fences, stdio.Out, log)
	if err != nil {
		return usageError{err}
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

func loadFences(path string) ([]geofence.Fence, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--local-geofence: %w", err)}
	}
	defer f.Close()
	return geofence.Parse(f)
}

// input opens where readings come from.
func (o reportOptions) input(ctx context.Context, stdio Stdio) (io.Reader, error) {
	switch {
	case o.Simulate:
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(report.Simulate(ctx, pw, o.DeviceID, o.Rate, o.Count))
		}()
		return pr, nil
	case o.Input == "-":
		return stdio.In, nil
	}
	f, err := os.Open(o.Input)
	if err != nil {
		return nil, usageError{fmt.Errorf("--input: %w", err)}
	}
	return f, nil // closed by the process's end
}

func printReportStatus(stdio Stdio, o reportOptions) error {
	st, err := report.ReadStatus(o.stateDir())
	if err != nil {
		return &exitError{code: ExitError, errCode: "no_status", msg: capitalize(err.Error()) + ".\nStart one with 'mapsdevice report', or give the same --home it uses."}
	}
	if o.JSON {
		writeEvent(stdio.Out, st)
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
