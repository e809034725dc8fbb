package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

// fakeClock is a Clock whose time moves only when the test says, or, when
// auto is set, jumps forward to whatever a caller waits for.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	auto    bool
	pending []*fakeTimer // in the order they were asked for
	created chan struct{}
}

type fakeTimer struct {
	at    time.Time
	d     time.Duration
	ch    chan time.Time
	fired bool
}

func newFakeClock(auto bool) *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), auto: auto, created: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.auto {
		c.now = c.now.Add(d)
		ch <- c.now
		return ch
	}
	c.pending = append(c.pending, &fakeTimer{at: c.now.Add(d), d: d, ch: ch})
	close(c.created)
	c.created = make(chan struct{})
	return ch
}

// Advance moves the time on by d and fires the timers then due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.pending {
		if !t.fired && !t.at.After(c.now) {
			t.fired = true
			t.ch <- t.at
		}
	}
}

// timer waits until the n-th timer (from 0) has been asked for.
func (c *fakeClock) timer(t *testing.T, n int) *fakeTimer {
	t.Helper()
	return c.waitTimer(t, func(ts []*fakeTimer) *fakeTimer {
		if n < len(ts) {
			return ts[n]
		}
		return nil
	})
}

// timers returns, in order, the timers asked for that the filter keeps,
// waiting for each as it is taken.
func (c *fakeClock) timers(t *testing.T, keep func(*fakeTimer) bool) func() *fakeTimer {
	next := 0
	return func() *fakeTimer {
		t.Helper()
		for {
			tm := c.timer(t, next)
			next++
			if keep(tm) {
				return tm
			}
		}
	}
}

// timerAt waits until a timer due at the given time is pending.
func (c *fakeClock) timerAt(t *testing.T, at time.Time) *fakeTimer {
	t.Helper()
	return c.waitTimer(t, func(ts []*fakeTimer) *fakeTimer {
		for _, tm := range ts {
			if !tm.fired && tm.at.Equal(at) {
				return tm
			}
		}
		return nil
	})
}

func (c *fakeClock) waitTimer(t *testing.T, match func([]*fakeTimer) *fakeTimer) *fakeTimer {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		found, created := match(c.pending), c.created
		c.mu.Unlock()
		if found != nil {
			return found
		}
		select {
		case <-created:
		case <-deadline:
			t.Fatal("the reporter never waited as expected")
		}
	}
}

// fault is what the fake service does to one call.
type fault int

const (
	faultNone       fault = iota
	fault503              // refused before accepting: busy
	fault429              // refused before accepting: too many requests
	faultNetwork          // refused before accepting: no connection
	faultLost             // accepted, but the answer is lost
	faultSignIn           // the sign-in is gone
	fault401              // the token is refused
	faultCrash            // the reporter dies after the call acted
	faultCrashEarly       // the reporter dies before the call acted
	faultKinds
)

var faultNames = [...]string{"none", "503", "429", "network", "lost answer", "sign-in needed", "401", "crash after", "crash before"}

func (f fault) String() string { return faultNames[f] }

// callError is the error a refused call returns.
func (f fault) callError() error {
	switch f {
	case fault503:
		return &azmaps.APIError{Status: 503, Code: "ServiceUnavailable"}
	case fault429:
		return &azmaps.APIError{Status: 429, Code: "TooManyRequests"}
	case fault401:
		return &azmaps.APIError{Status: 401, AuthError: "invalid_token"}
	case faultSignIn:
		return &auth.Error{Kind: auth.KindSignInNeeded, Reason: "the refresh token was revoked"}
	default:
		return errors.New("connection reset by peer")
	}
}

// fakeUpload is one upload the fake service took.
type fakeUpload struct {
	udid, op, description string
	seqs                  []int
	fate                  string // Completed or Failed, once no longer Pending
	pendingPolls          int    // status reads that still see Pending
}

func (u *fakeUpload) status() string {
	if u.pendingPolls > 0 {
		return "Pending"
	}
	return u.fate
}

// fakeMaps is the Data service as delivery sees it, with faults no real
// service produces on demand: an accepted upload whose answer is lost,
// an upload left Pending, an operation that fails, a crash mid-call.
type fakeMaps struct {
	mu      sync.Mutex
	uploads []*fakeUpload
	calls   map[string]int
	faults  map[fault]int // faults served, by kind
	// plan says what happens to a call (upload, wait, list, metadata);
	// fate says how an accepted upload ends and how long it stays Pending.
	plan  func(call string) fault
	fate  func() (string, int)
	crash func() // ends the reporter's run, as a SIGKILL would
}

var _ Maps = (*fakeMaps)(nil)

func newFakeMaps() *fakeMaps {
	return &fakeMaps{calls: map[string]int{}, faults: map[fault]int{}}
}

// next decides the fate of a call; a crash fault with no crash set is
// served as no fault.
func (m *fakeMaps) next(call string) fault {
	m.calls[call]++
	f := faultNone
	if m.plan != nil {
		f = m.plan(call)
	}
	if (f == faultCrash || f == faultCrashEarly) && m.crash == nil {
		f = faultNone
	}
	m.faults[f]++
	return f
}

func (m *fakeMaps) Upload(ctx context.Context, body azmaps.Body, description string) (azmaps.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.next("upload")
	switch f {
	case fault503, fault429, faultNetwork, faultSignIn, fault401:
		return azmaps.Operation{}, f.callError()
	case faultCrashEarly:
		m.crash()
		return azmaps.Operation{}, context.Canceled
	}
	seqs, err := readSeqs(body)
	if err != nil {
		return azmaps.Operation{}, &azmaps.APIError{Status: 400, Message: err.Error()}
	}
	n := len(m.uploads)
	u := &fakeUpload{udid: fmt.Sprintf("udid-%d", n), op: fmt.Sprintf("op-%d", n), description: description, seqs: seqs, fate: "Completed"}
	if m.fate != nil {
		u.fate, u.pendingPolls = m.fate()
	}
	m.uploads = append(m.uploads, u)
	switch f {
	case faultLost:
		return azmaps.Operation{}, f.callError()
	case faultCrash:
		m.crash()
		return azmaps.Operation{}, context.Canceled
	}
	return azmaps.Operation{ID: u.op}, nil
}

func (m *fakeMaps) OperationURL(id string) azmaps.Operation { return azmaps.Operation{ID: id} }

func (m *fakeMaps) Wait(ctx context.Context, op azmaps.Operation) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch f := m.next("wait"); f {
	case faultNone, faultLost:
	case faultCrash, faultCrashEarly:
		m.crash()
		return "", context.Canceled
	default:
		return "", f.callError()
	}
	for _, u := range m.uploads {
		if u.op != op.ID {
			continue
		}
		u.pendingPolls = 0 // Wait polls until the operation ends
		if u.fate == "Failed" {
			return "", &azmaps.OperationError{Code: "Failed", Message: "the data could not be stored"}
		}
		return u.udid, nil
	}
	return "", &azmaps.APIError{Status: 404, Code: "NotFound"}
}

func (m *fakeMaps) List(ctx context.Context) ([]azmaps.Metadata, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch f := m.next("list"); f {
	case faultNone, faultLost:
	case faultCrash, faultCrashEarly:
		m.crash()
		return nil, context.Canceled
	default:
		return nil, f.callError()
	}
	var out []azmaps.Metadata
	for _, u := range m.uploads {
		out = append(out, azmaps.Metadata{UDID: u.udid, Description: u.description, UploadStatus: u.status()})
	}
	return out, nil
}

func (m *fakeMaps) Metadata(ctx context.Context, udid string) (azmaps.Metadata, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch f := m.next("metadata"); f {
	case faultNone, faultLost:
	case faultCrash, faultCrashEarly:
		m.crash()
		return azmaps.Metadata{}, context.Canceled
	default:
		return azmaps.Metadata{}, f.callError()
	}
	for _, u := range m.uploads {
		if u.udid == udid {
			if u.pendingPolls > 0 {
				u.pendingPolls--
			}
			return azmaps.Metadata{UDID: u.udid, Description: u.description, UploadStatus: u.status()}, nil
		}
	}
	return azmaps.Metadata{}, &azmaps.APIError{Status: 404, Code: "NotFound"}
}

// stored counts, by seq, the readings the service keeps: those of every
// upload that completed or, still Pending, will complete.
func (m *fakeMaps) stored() map[int]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	got := map[int]int{}
	for _, u := range m.uploads {
		if u.fate == "Completed" {
			for _, s := range u.seqs {
				got[s]++
			}
		}
	}
	return got
}

func (m *fakeMaps) uploadSizes() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for _, u := range m.uploads {
		out = append(out, len(u.seqs))
	}
	return out
}

func (m *fakeMaps) count(call string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[call]
}

// readSeqs reads the seq property of each reading in an upload.
func readSeqs(body azmaps.Body) ([]int, error) {
	rc, err := body.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var fc struct {
		Features []struct {
			Properties struct {
				Seq *int `json:"seq"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.NewDecoder(rc).Decode(&fc); err != nil {
		return nil, err
	}
	out := make([]int, 0, len(fc.Features))
	for _, f := range fc.Features {
		if f.Properties.Seq == nil {
			return nil, errors.New("a reading without seq")
		}
		out = append(out, *f.Properties.Seq)
	}
	return out, nil
}

// readings are n numbered readings as NDJSON, from seq first.
func readings(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"seq":%d}`+"\n", i)
	}
	return b.Bytes()
}

// lockedBuffer collects a logger's output for a test to read meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// checkOnce fails unless every seq below n was counted exactly once.
func checkOnce(t *testing.T, got map[int]int, n int) {
	t.Helper()
	var lost, dup []string
	for s := range n {
		switch c := got[s]; {
		case c == 0:
			lost = append(lost, fmt.Sprint(s))
		case c > 1:
			dup = append(dup, fmt.Sprintf("%d×%d", s, c))
		}
	}
	for s := range got {
		if s < 0 || s >= n {
			dup = append(dup, fmt.Sprintf("unknown %d", s))
		}
	}
	if len(lost) > 0 || len(dup) > 0 {
		t.Errorf("%d lost [%s], %d duplicated [%s]", len(lost), firstFew(lost), len(dup), firstFew(dup))
	}
}

// firstFew joins a list, cut short so a failure stays readable.
func firstFew(s []string) string {
	if len(s) > 20 {
		return strings.Join(s[:20], " ") + " …"
	}
	return strings.Join(s, " ")
}

// newRand is a seeded source, so a failing schedule can be run again.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6d617073)) }
