package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

// Status is what 'mapsdevice report --status' shows.
type Status struct {
	spool.Stats
	LastSuccess time.Time `json:"lastSuccess,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitempty"`
	Updated     time.Time `json:"updated"`
	Running     bool      `json:"running"`
	PID         int       `json:"pid"`
	// Damaged is the spool this reporter found damaged and moved aside.
	Damaged *Damaged `json:"damagedSpool,omitempty"`
}

// statusFile keeps status.json up to date while the reporter runs.
type statusFile struct {
	path  string
	spool *spool.Spool
	clock Clock
	log   *slog.Logger
	mu    sync.Mutex
	st    Status
	// lastErr is the cause of the last write error logged, so that a
	// failing disk is reported once rather than every 2 s. Only the writer
	// touches it.
	lastErr string
}

func (s *statusFile) success(int) {
	s.mu.Lock()
	s.st.LastSuccess = s.clock.Now()
	s.mu.Unlock()
}

func (s *statusFile) failure(err error) {
	s.mu.Lock()
	s.st.LastError, s.st.LastErrorAt = err.Error(), s.clock.Now()
	s.mu.Unlock()
}

// run writes the file every 2 s of real time, so that 'report --status'
// sees a live process whatever clock delivery runs by. The returned func
// stops the writer and writes the file a last time.
func (s *statusFile) run() (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			s.write(true)
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		s.write(false)
	}
}

// write writes the file, logging a failure once until the file is written
// again or fails otherwise.
func (s *statusFile) write(running bool) {
	err := s.writeFile(running)
	if err == nil {
		s.lastErr = ""
		return
	}
	// The cause, not the message: that names a new temporary file each time.
	cause := err
	for errors.Unwrap(cause) != nil {
		cause = errors.Unwrap(cause)
	}
	if cause.Error() != s.lastErr {
		s.lastErr = cause.Error()
		s.log.Warn("could not write the status file", "path", s.path, "error", err.Error())
	}
}

func (s *statusFile) writeFile(running bool) error {
	st, err := s.spool.Stats()
	if err != nil {
		return fmt.Errorf("read spool: %w", err)
	}
	s.mu.Lock()
	s.st.Stats, s.st.Updated, s.st.Running, s.st.PID = st, s.clock.Now(), running, os.Getpid()
	data, err := json.MarshalIndent(s.st, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path, data, 0o600)
}

// ReadStatus reads the status a reporter left in dir.
func ReadStatus(dir string) (Status, error) {
	data, err := os.ReadFile(StatusPath(dir))
	if err != nil {
		return Status{}, fmt.Errorf("no reporter has run with state folder %s: %w", dir, err)
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return Status{}, fmt.Errorf("status file: %w", err)
	}
	return st, nil
}
