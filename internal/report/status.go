package report

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

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
}

// statusFile keeps status.json up to date while the reporter runs.
type statusFile struct {
	path  string
	spool *spool.Spool
	mu    sync.Mutex
	st    Status
}

func (s *statusFile) success(int) {
	s.mu.Lock()
	s.st.LastSuccess = time.Now()
	s.mu.Unlock()
}

func (s *statusFile) failure(err error) {
	s.mu.Lock()
	s.st.LastError, s.st.LastErrorAt = err.Error(), time.Now()
	s.mu.Unlock()
}

// run writes the file every 2 s; the returned func writes it a last time.
func (s *statusFile) run(ctx context.Context) func() {
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
			case <-ctx.Done():
				<-done
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

func (s *statusFile) write(running bool) {
	st, err := s.spool.Stats()
	if err != nil {
		return
	}
	s.mu.Lock()
	s.st.Stats, s.st.Updated, s.st.Running, s.st.PID = st, time.Now(), running, os.Getpid()
	data, _ := json.MarshalIndent(s.st, "", "  ")
	s.mu.Unlock()
	tmp := s.path + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		os.Rename(tmp, s.path)
	}
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
