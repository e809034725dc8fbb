package report

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

// Options configure a reporter.
type Options struct {
	// StateDir holds the spool, the dead-letter file and status.json.
	StateDir string
	DeviceID string
	// BatchSize and MaxDelay decide when a batch goes: when it is full or
	// its oldest reading has waited MaxDelay. Zero means 500 readings and
	// 5 s.
	BatchSize int
	MaxDelay  time.Duration
	SpoolMax  int
	SpoolFull spool.Policy
	// SignInRetry is how often delivery tries again while sign-in is
	// needed. Zero means 30 s.
	SignInRetry time.Duration
	// Follow keeps reading a file past its end, as tail -f does.
	Follow bool
	// OnSignInNeeded, if set, is called when delivery finds that sign-in
	// is needed, once until a delivery succeeds again.
	OnSignInNeeded func(error)
	// Clock is the time to batch and wait by; nil means the real time.
	Clock Clock
}

// Reporter moves readings from an input to Azure Maps.
type Reporter struct {
	opts    Options
	maps    Maps
	fences  Fencer
	spool   *spool.Spool
	log     *slog.Logger
	clock   Clock
	events  *transitions
	status  *statusFile
	newData chan struct{}
	dead    *os.File
}

// New opens the spool. Close it when done.
func New(opts Options, maps Maps, fences Fencer, events io.Writer, log *slog.Logger) (*Reporter, error) {
	switch {
	case opts.BatchSize < 0:
		return nil, fmt.Errorf("batch size %d: must not be negative", opts.BatchSize)
	case opts.MaxDelay < 0:
		return nil, fmt.Errorf("maximum delay %v: must not be negative", opts.MaxDelay)
	case opts.SignInRetry < 0:
		return nil, fmt.Errorf("sign-in retry %v: must not be negative", opts.SignInRetry)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 500
	}
	if opts.MaxDelay == 0 {
		opts.MaxDelay = 5 * time.Second
	}
	if opts.SignInRetry == 0 {
		opts.SignInRetry = 30 * time.Second
	}
	clock := opts.Clock
	if clock == nil {
		clock = systemClock{}
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	sp, err := spool.Open(filepath.Join(opts.StateDir, "spool.db"), opts.SpoolMax, opts.SpoolFull, clock.Now)
	if err != nil {
		return nil, err
	}
	dead, err := os.OpenFile(DeadLetterPath(opts.StateDir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("open dead-letter file: %w", err)
	}
	return &Reporter{
		opts: opts, maps: maps, fences: fences, spool: sp, log: log, clock: clock, dead: dead,
		events:  &transitions{inside: map[string]map[string]bool{}, out: events},
		status:  &statusFile{path: StatusPath(opts.StateDir), spool: sp, clock: clock, log: log},
		newData: make(chan struct{}, 1),
	}, nil
}

// Close closes the spool and the dead-letter file.
func (r *Reporter) Close() error {
	derr := r.dead.Close()
	if err := r.spool.Close(); err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("close dead-letter file: %w", derr)
	}
	return nil
}

// DeadLetterPath and StatusPath are where a reporter keeps its files.
func DeadLetterPath(dir string) string { return filepath.Join(dir, "deadletter.ndjson") }

// StatusPath is the status file 'report --status' reads.
func StatusPath(dir string) string { return filepath.Join(dir, "status.json") }

// Run reads readings until the input ends, then delivers what is spooled,
// writes the events of every reading, and returns. When ctx ends it leaves
// what is undelivered in the spool, writes no more events, closes in to
// end a read in progress, and returns once its goroutines have ended. Run
// owns in and always closes it.
//
// Whether closing ends a read depends on in: a pipe from io.Pipe or
// os.Pipe, or a FIFO or terminal opened with os.Open, ends at once. A file
// in blocking mode, such as os.Stdin as Go opens it, does not: Run then
// returns with the next line or the end of input. Interruptible turns such
// a file into one that ends at once.
func (r *Reporter) Run(ctx context.Context, in io.ReadCloser) error {
	// Events have their own context: the end of input stops ingest and
	// delivery, but the events of what was accepted are still written.
	fencesCtx, stopFences := context.WithCancel(ctx)
	defer stopFences()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drain := make(chan struct{})
	accepted := make(chan Reading, 4096)
	ingestDone := make(chan error, 1)
	deliverDone := make(chan error, 1)
	fencesDone := make(chan struct{})
	stopStatus := r.status.run()
	defer stopStatus()

	go func() {
		err := r.ingest(ctx, in, accepted)
		close(accepted)
		ingestDone <- err
	}()
	go func() { deliverDone <- r.deliverLoop(ctx, drain) }()
	go func() {
		defer close(fencesDone)
		r.watchFences(fencesCtx, accepted)
	}()

	var err, derr error
	ingested := false
	select {
	case err = <-ingestDone:
		ingested = true
		if err != nil {
			cancel()
		} else {
			close(drain)
		}
		derr = <-deliverDone
	case derr = <-deliverDone:
	case <-ctx.Done():
		derr = <-deliverDone
	}
	cancel()
	cerr := in.Close()
	if !ingested {
		err = <-ingestDone
	}
	if err != nil || derr != nil {
		stopFences()
	}
	<-fencesDone
	switch {
	case err != nil:
		return err
	case derr != nil:
		return derr
	case ingested && cerr != nil:
		return fmt.Errorf("close readings input: %w", cerr)
	}
	return nil
}

// ingest commits readings as they come, grouping what is already buffered
// into one commit.
func (r *Reporter) ingest(ctx context.Context, in io.Reader, accepted chan<- Reading) error {
	br := bufio.NewReaderSize(in, 256<<10)
	lineNo := 0
	var pending []Reading
	var records [][]byte
	dead := 0
	flush := func() error {
		if dead > 0 {
			if err := r.spool.DeadLettered(dead); err != nil {
				return err
			}
			dead = 0
		}
		if len(records) == 0 {
			return nil
		}
		if err := r.spool.Append(ctx, records); err != nil {
			if errors.Is(err, spool.ErrFull) || ctx.Err() != nil {
				return nil // stopping: what was not committed was not accepted
			}
			return err
		}
		select {
		case r.newData <- struct{}{}:
		default:
		}
		// Waiting for events holds up reading, not delivery: what was
		// committed is already spooled.
		for _, rd := range pending {
			select {
			case accepted <- rd:
			case <-ctx.Done():
				return nil
			}
		}
		pending, records = pending[:0], records[:0]
		return nil
	}
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			lineNo++
			if rd, perr := Parse(line, r.opts.DeviceID); perr != nil {
				dead++
				r.deadLetter(lineNo, perr, line)
			} else {
				pending, records = append(pending, rd), append(records, rd.raw)
			}
		}
		if err == io.EOF && r.opts.Follow {
			if ferr := flush(); ferr != nil {
				return ferr
			}
			if ctx.Err() != nil || r.sleep(ctx, 200*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		if err != nil || len(records) >= 1000 || br.Buffered() == 0 {
			if ferr := flush(); ferr != nil {
				return ferr
			}
		}
		if ctx.Err() != nil || err == io.EOF {
			return nil // when stopping, a read error is the closed input
		}
		if err != nil {
			return fmt.Errorf("read readings: %w", err)
		}
	}
}

// readLine reads one line without its newline, cutting lines that are
// too long (the rest is dropped).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(line) <= MaxLine+1 {
			line = append(line, part...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		return line, err
	}
}

type deadLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Text   string `json:"text"`
}

func (r *Reporter) deadLetter(n int, reason error, line []byte) {
	out, _ := json.Marshal(deadLine{Line: n, Reason: reason.Error(), Text: string(line)})
	if _, err := r.dead.Write(append(out, '\n')); err != nil {
		r.log.Error("could not write the dead-letter file", "error", err.Error())
	}
	r.log.Warn("bad reading sent to the dead-letter file", "line", n, "reason", reason.Error())
}

// fenceRetry is how long readings go unchecked after the geofence service
// failed, so an outage, where each check waits through the client's
// retries, does not hold up reading.
const fenceRetry = 10 * time.Second

// watchFences checks accepted readings against the fences and writes
// enter and exit events, until accepted is closed or ctx ends. While the
// service fails, readings are not checked and make no events.
func (r *Reporter) watchFences(ctx context.Context, accepted <-chan Reading) {
	var failedAt time.Time // zero while checks succeed
	unchecked := 0
	defer func() {
		if unchecked > 0 && ctx.Err() == nil {
			r.log.Warn("geofence checks were failing at the end; readings went unchecked", "unchecked", unchecked)
		}
	}()
	for rd := range accepted {
		if ctx.Err() != nil {
			return
		}
		if r.fences == nil {
			continue
		}
		if !failedAt.IsZero() && r.clock.Now().Sub(failedAt) < fenceRetry {
			unchecked++
			continue
		}
		res, err := r.fences.Check(ctx, rd)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			first := failedAt.IsZero()
			failedAt = r.clock.Now()
			unchecked++
			if first {
				r.log.Warn("geofence check failed; no events until it answers", "error", err.Error())
			}
			continue
		}
		if !failedAt.IsZero() {
			r.log.Info("geofence checks resumed", "unchecked", unchecked)
			failedAt, unchecked = time.Time{}, 0
		}
		r.events.observe(rd, res)
	}
}
