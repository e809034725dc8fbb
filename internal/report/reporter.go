package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

// Options configure a reporter.
type Options struct {
	// StateDir holds the spool, the dead-letter file and status.json.
	StateDir string
	DeviceID string
	// BatchSize and MaxDelay decide when a batch is sealed: when it is
	// full or its oldest reading has waited MaxDelay. Zero means 500
	// readings and 5 s.
	BatchSize int
	MaxDelay  time.Duration
	SpoolMax  int
	SpoolFull spool.Policy
	// InFlight is how many batches are on their way at once; zero means 4.
	InFlight int
	// MaxFuture is how far ahead of the clock a reading's time may be;
	// zero means 24 h.
	MaxFuture time.Duration
	// SignInRetry is how often delivery tries again while sign-in is
	// needed. Zero means 30 s.
	SignInRetry time.Duration
	// Follow keeps reading past the end of the input, as tail -F does.
	Follow bool
	// OnSignInNeeded, if set, is called when delivery finds that sign-in
	// is needed, once until a delivery succeeds again.
	OnSignInNeeded func(error)
	// Clock is the time to batch and wait by; nil means the real time.
	Clock Clock
}

// Reporter moves readings from an input to a sink.
type Reporter struct {
	opts    Options
	sink    Sink
	fences  Fencer
	spool   *spool.Spool
	log     *slog.Logger
	clock   Clock
	events  *transitions
	status  *statusFile
	signIn  *signInState
	newData chan struct{}
	deadMu  sync.Mutex
	dead    *os.File
}

// notesUser is a sink that keeps notes on batches in the spool.
type notesUser interface {
	attach(batchNotes, func(context.Context, time.Duration) error)
}

// New opens the spool. Close it when done. A damaged spool is moved aside
// and a new one started; Damaged on the status says what was lost.
func New(opts Options, sink Sink, fences Fencer, events io.Writer, log *slog.Logger) (*Reporter, error) {
	switch {
	case opts.BatchSize < 0:
		return nil, fmt.Errorf("batch size %d: must not be negative", opts.BatchSize)
	case opts.MaxDelay < 0:
		return nil, fmt.Errorf("maximum delay %v: must not be negative", opts.MaxDelay)
	case opts.SignInRetry < 0:
		return nil, fmt.Errorf("sign-in retry %v: must not be negative", opts.SignInRetry)
	case opts.InFlight < 0:
		return nil, fmt.Errorf("batches in flight %d: must not be negative", opts.InFlight)
	case opts.MaxFuture < 0:
		return nil, fmt.Errorf("maximum future %v: must not be negative", opts.MaxFuture)
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
	if opts.InFlight == 0 {
		opts.InFlight = 4
	}
	if opts.MaxFuture == 0 {
		opts.MaxFuture = 24 * time.Hour
	}
	clock := opts.Clock
	if clock == nil {
		clock = systemClock{}
	}
	if err := privateDir(opts.StateDir); err != nil {
		return nil, err
	}
	sp, damaged, err := openSpool(opts, clock, log)
	if err != nil {
		return nil, err
	}
	dead, err := openAppend(DeadLetterPath(opts.StateDir))
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("open dead-letter file: %w", err)
	}
	r := &Reporter{
		opts: opts, sink: sink, fences: fences, spool: sp, log: log, clock: clock, dead: dead,
		events:  &transitions{inside: map[string]map[string]bool{}, out: events},
		status:  &statusFile{path: StatusPath(opts.StateDir), spool: sp, clock: clock, log: log},
		newData: make(chan struct{}, 1),
	}
	r.status.st.Damaged = damaged
	r.signIn = &signInState{onFirst: opts.OnSignInNeeded, log: func(err error) {
		log.Error("sign-in needed: readings keep spooling, and delivery resumes by itself once signed in", "error", err.Error())
	}}
	if state, err := sp.FenceState(); err == nil && len(state) > 0 {
		json.Unmarshal(state, &r.events.inside)
	}
	r.events.save = func(state []byte) {
		if err := sp.SetFenceState(state); err != nil {
			log.Warn("could not keep the geofence state", "error", err.Error())
		}
	}
	if nu, ok := sink.(notesUser); ok {
		nu.attach(sp, r.sleep)
	}
	return r, nil
}

// privateDir makes dir, or tightens it, so only its owner can use it.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state folder %s is not a folder", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("tighten state folder: %w", err)
		}
	}
	return nil
}

// openAppend opens a file for appending, never through a symbolic link.
func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|oNoFollow, 0o600)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link; refusing to write through it", path)
		}
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

// Damaged is a spool found damaged and moved aside.
type Damaged struct {
	Path string    `json:"path"`
	At   time.Time `json:"at"`
	// Reason is what was wrong; Lost the readings it held by the last
	// status written before, when that could be read.
	Reason string `json:"reason"`
	Lost   *int   `json:"lost,omitempty"`
}

// openSpool opens the spool, moving a damaged one aside. A 0-byte spool
// counts as damaged when the last status says readings were spooled.
func openSpool(opts Options, clock Clock, log *slog.Logger) (*spool.Spool, *Damaged, error) {
	path := filepath.Join(opts.StateDir, "spool.db")
	old, oldErr := ReadStatus(opts.StateDir)
	var reason error
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 && oldErr == nil && old.Depth > 0 {
		reason = fmt.Errorf("the file is empty, but %d readings were spooled", old.Depth)
	} else {
		sp, err := spool.Open(path, opts.SpoolMax, opts.SpoolFull, clock.Now)
		var de *spool.DamagedError
		if !errors.As(err, &de) {
			return sp, nil, err
		}
		reason = de.Err
	}
	moved, err := spool.MoveAside(path, clock.Now())
	if err != nil {
		return nil, nil, err
	}
	d := &Damaged{Path: moved, At: clock.Now(), Reason: reason.Error()}
	attrs := []any{"moved_to", moved, "reason", d.Reason}
	if oldErr == nil {
		lost := old.Depth
		d.Lost = &lost
		attrs = append(attrs, "readings_lost", old.Depth, "delivered_before", old.Delivered, "accepted_before", old.Accepted)
	} else {
		attrs = append(attrs, "readings_lost", "unknown")
	}
	log.Error("the spool was damaged; it was moved aside and a new one started", attrs...)
	sp, err := spool.Open(path, opts.SpoolMax, opts.SpoolFull, clock.Now)
	return sp, d, err
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
	return r.run(ctx, func(ctx context.Context, accepted chan<- Reading) error {
		return r.ingestStream(ctx, in, accepted)
	}, in.Close)
}

// RunFile is Run for a file named by path. With Follow it reads on as the
// file grows, is rotated or truncated, as tail -F does, and keeps a
// checkpoint in the spool, committed with the readings it covers, so a
// restart goes on after the last reading taken: none read twice, none
// skipped.
func (r *Reporter) RunFile(ctx context.Context, path string) error {
	return r.run(ctx, func(ctx context.Context, accepted chan<- Reading) error {
		return r.ingestFile(ctx, path, accepted)
	}, func() error { return nil })
}

func (r *Reporter) run(ctx context.Context, ingest func(context.Context, chan<- Reading) error, closeInput func() error) error {
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
		err := ingest(ctx, accepted)
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
	cerr := closeInput()
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

// intake collects readings and commits them, with the file position
// they reach when the input is a file.
type intake struct {
	r        *Reporter
	accepted chan<- Reading
	lineNo   int
	pending  []Reading
	records  [][]byte
	ends     []int64
	dead     int
	// dev and ino name the file read; end is the offset covered, and
	// committed the one last committed.
	file           bool
	dev, ino       uint64
	end, committed int64
}

// take checks one line and keeps it, or dead-letters it; end is the
// offset after it in a file.
func (in *intake) take(line []byte, n int, end int64) {
	in.lineNo++
	in.end = end
	if n > MaxLine {
		in.dead++
		in.r.deadLetterLong(in.lineNo, n, line)
		return
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	rd, err := Parse(line, in.r.opts.DeviceID)
	if err == nil && rd.Time.After(in.r.clock.Now().Add(in.r.opts.MaxFuture)) {
		err = fmt.Errorf(`"time" %s is more than %v ahead of this device's clock`, rd.Time.Format(time.RFC3339), in.r.opts.MaxFuture)
	}
	if err != nil {
		in.dead++
		in.r.deadLetter(in.lineNo, err, line)
		return
	}
	in.pending, in.records, in.ends = append(in.pending, rd), append(in.records, rd.raw), append(in.ends, end)
}

// flush commits what was taken; ok is false when stopping.
func (in *intake) flush(ctx context.Context) (ok bool, err error) {
	r := in.r
	if in.dead > 0 {
		if err := r.spool.DeadLettered(in.dead); err != nil {
			return false, err
		}
		in.dead = 0
	}
	var mark *spool.Mark
	if in.file && in.end != in.committed {
		mark = &spool.Mark{Dev: in.dev, Ino: in.ino, Ends: in.ends, End: in.end}
	}
	if len(in.records) == 0 && mark == nil {
		return true, nil
	}
	if err := r.spool.Append(ctx, in.records, mark); err != nil {
		if errors.Is(err, spool.ErrFull) || ctx.Err() != nil {
			return false, nil // stopping: what was not committed was not accepted
		}
		return false, err
	}
	in.committed = in.end
	select {
	case r.newData <- struct{}{}:
	default:
	}
	// Waiting for events holds up reading, not delivery: what was
	// committed is already spooled.
	for _, rd := range in.pending {
		select {
		case in.accepted <- rd:
		case <-ctx.Done():
			return false, nil
		}
	}
	in.pending, in.records, in.ends = in.pending[:0], in.records[:0], in.ends[:0]
	return true, nil
}

// ingestStream commits readings as they come, grouping what is already
// buffered into one commit.
func (r *Reporter) ingestStream(ctx context.Context, src io.Reader, accepted chan<- Reading) error {
	lr := newLineReader(src, 0)
	in := &intake{r: r, accepted: accepted}
	for {
		line, n, err := lr.next()
		if err == nil {
			in.take(line, n, 0)
		}
		if err == io.EOF && r.opts.Follow {
			if ok, ferr := in.flush(ctx); ferr != nil || !ok {
				return ferr
			}
			if ctx.Err() != nil || r.sleep(ctx, 200*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		if err == io.EOF {
			if line, n := lr.rest(); n > 0 {
				in.take(line, n, 0)
			}
		}
		if err != nil || len(in.records) >= 1000 || lr.buffered() == 0 {
			if ok, ferr := in.flush(ctx); ferr != nil || !ok {
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

type deadLine struct {
	Line      int    `json:"line,omitempty"`
	Reason    string `json:"reason"`
	Text      string `json:"text,omitempty"`
	Length    int    `json:"length,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Batch     string `json:"batch,omitempty"`
	ReadingID string `json:"readingId,omitempty"`
}

func (r *Reporter) writeDead(d deadLine) {
	out, _ := json.Marshal(d)
	r.deadMu.Lock()
	_, err := r.dead.Write(append(out, '\n'))
	r.deadMu.Unlock()
	if err != nil {
		r.log.Error("could not write the dead-letter file", "error", err.Error())
	}
}

func (r *Reporter) deadLetter(n int, reason error, line []byte) {
	r.writeDead(deadLine{Line: n, Reason: reason.Error(), Text: string(line)})
	r.log.Warn("bad reading sent to the dead-letter file", "line", n, "reason", reason.Error())
}

// deadLetterLong records an over-long line by its length and a prefix.
func (r *Reporter) deadLetterLong(n, length int, line []byte) {
	prefix := line[:min(len(line), 80)]
	for len(prefix) > 0 && !utf8.Valid(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	reason := fmt.Sprintf("the line is %d bytes; a reading may have at most %d", length, MaxLine)
	r.writeDead(deadLine{Line: n, Reason: reason, Length: length, Prefix: string(prefix)})
	r.log.Warn("over-long line sent to the dead-letter file", "line", n, "bytes", length)
}

// deadLetterReading records a reading the destination refused.
func (r *Reporter) deadLetterReading(b spool.Batch, rej *RejectedError) {
	text := strings.TrimSuffix(string(b.Body), "\n")
	var id struct {
		ReadingID string `json:"readingId"`
	}
	json.Unmarshal([]byte(text), &id)
	r.writeDead(deadLine{Reason: rej.Reason, Text: text, Batch: b.ID, ReadingID: id.ReadingID})
	r.log.Warn("the destination refused a reading; it went to the dead-letter file", "reading", id.ReadingID, "reason", rej.Reason)
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
