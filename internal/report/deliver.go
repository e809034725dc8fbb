package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/backoff"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

// maxBatchBytes keeps a batch's body under the smallest common limit of
// the sinks (Event Hubs Standard takes 1 MB a publication).
const maxBatchBytes = 900 << 10

// batchID names a batch by the spool's epoch and its first reading.
func batchID(epoch string, first uint64) string { return fmt.Sprintf("%s-%016x", epoch, first) }

// readingLine is a stored reading as it goes out: with its readingId,
// added as the object's last member (stored readings are compact objects
// written by encoding/json, so the result is the same every time).
func (r *Reporter) readingLine(seq uint64, rec []byte) []byte {
	var dev struct {
		DeviceID string `json:"deviceId"`
	}
	if len(rec) < 2 || rec[len(rec)-1] != '}' || json.Unmarshal(rec, &dev) != nil {
		return rec
	}
	id, _ := json.Marshal(fmt.Sprintf("%s:%s:%d", dev.DeviceID, r.spool.Epoch(), seq))
	out := make([]byte, 0, len(rec)+len(id)+14)
	out = append(out, rec[:len(rec)-1]...)
	if len(rec) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"readingId":`...)
	out = append(out, id...)
	return append(out, '}')
}

// toSink is a sealed batch as a sink takes it.
func toSink(b spool.Batch) Batch {
	out := Batch{ID: b.ID, Body: b.Body, Count: b.Count}
	line := b.Body
	for i, c := range line {
		if c == '\n' {
			line = line[:i]
			break
		}
	}
	var first struct {
		DeviceID string    `json:"deviceId"`
		Time     time.Time `json:"time"`
	}
	if json.Unmarshal(line, &first) == nil {
		out.DeviceID, out.First = first.DeviceID, first.Time.UTC()
	}
	return out
}

// job is one batch on its way; done carries its outcome.
type job struct {
	b    spool.Batch
	done chan result
}

type result struct {
	ack bool // the sink took the whole batch: acknowledge it
	err error
}

// deliverLoop seals batches as they fill or age and keeps up to InFlight
// of them on their way, acknowledging them in order. Batches sealed before
// a restart go first, unchanged. With drain it returns once the spool is
// empty.
func (r *Reporter) deliverLoop(ctx context.Context, drain <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	resend, err := r.spool.Sealed()
	if err != nil {
		return err
	}
	var queue []*job
	draining := false
	for {
		if !draining {
			select {
			case <-drain:
				draining, drain = true, nil // closed: it would fire on every turn
			default:
			}
		}
		st, err := r.spool.Stats()
		if err != nil {
			return fmt.Errorf("read spool: %w", err)
		}
		for len(queue) < r.opts.InFlight {
			var b spool.Batch
			if len(resend) > 0 {
				b, resend = resend[0], resend[1:]
			} else {
				ready := st.Unsealed() >= r.opts.BatchSize || (st.Unsealed() > 0 && (draining || r.clock.Now().Sub(st.OldestUnsealed) >= r.opts.MaxDelay))
				if !ready {
					break
				}
				var ok bool
				b, ok, err = r.spool.Seal(r.opts.BatchSize, maxBatchBytes, r.readingLine, func(first uint64) string { return batchID(r.spool.Epoch(), first) })
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				if st, err = r.spool.Stats(); err != nil {
					return fmt.Errorf("read spool: %w", err)
				}
			}
			j := &job{b: b, done: make(chan result, 1)}
			queue = append(queue, j)
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.done <- r.deliver(ctx, j.b)
			}()
		}
		if len(queue) == 0 && draining && st.Unsealed() == 0 {
			return nil
		}
		var first <-chan result
		if len(queue) > 0 {
			first = queue[0].done
		}
		// New readings matter only when a batch could go: with every
		// slot taken, reading the spool's state for each commit would
		// cost more than the deliveries.
		var wake <-chan time.Time
		var newData <-chan struct{}
		if len(queue) < r.opts.InFlight {
			newData = r.newData
			wait := r.opts.MaxDelay
			if st.Unsealed() > 0 {
				wait = max(10*time.Millisecond, r.opts.MaxDelay-r.clock.Now().Sub(st.OldestUnsealed))
			}
			wake = r.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil // stopping: sealed batches stay spooled under their ids
		case res := <-first:
			if res.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return res.err
			}
			b := queue[0].b
			queue = queue[1:]
			if res.ack {
				if err := r.spool.Ack(b); err != nil {
					return err
				}
				r.status.success(b.Count)
				r.log.Debug("delivered", "batch", b.ID, "readings", b.Count)
			}
		case <-newData:
		case <-drain:
			draining, drain = true, nil
		case <-wake:
		}
	}
}

// deliver gets one sealed batch to the sink, retrying until it is taken,
// or splitting it while the sink refuses it, so that only the readings
// refused are dead-lettered. It returns an error only for a spool failure
// or when ctx ends.
func (r *Reporter) deliver(ctx context.Context, b spool.Batch) result {
	failures := 0
	for {
		err := r.sink.Send(ctx, toSink(b))
		if ctx.Err() != nil {
			return result{err: ctx.Err()}
		}
		if err == nil {
			r.signIn.resolved()
			return result{ack: true}
		}
		var rej *RejectedError
		if errors.As(err, &rej) {
			return result{err: r.refused(ctx, b, rej)}
		}
		r.status.failure(err)
		failures++
		delay := backoff.Policy{Base: time.Second, Max: 5 * time.Minute}.Delay(failures - 1)
		var ra *RetryAfterError
		switch {
		case needsSignIn(err):
			delay = r.opts.SignInRetry
			r.signIn.needed(err)
		case errors.As(err, &ra) && ra.After > 0:
			delay = ra.After
			r.log.Warn("the destination is busy; will retry", "batch", b.ID, "error", err.Error(), "retry_in", delay.String())
		default:
			r.log.Warn("delivery failed; will retry", "batch", b.ID, "error", err.Error(), "retry_in", delay.Round(time.Millisecond).String())
		}
		if err := r.sleep(ctx, delay); err != nil {
			return result{err: err}
		}
	}
}

// refused splits a refused batch and delivers its halves, down to the
// single readings refused, which go to the dead-letter file.
func (r *Reporter) refused(ctx context.Context, b spool.Batch, rej *RejectedError) error {
	if b.Count == 1 {
		r.deadLetterReading(b, rej)
		return r.spool.DeadLetter(b)
	}
	r.log.Warn("the destination refused a batch; splitting it to find the readings refused", "batch", b.ID, "readings", b.Count, "reason", rej.Reason)
	kids, err := r.spool.Split(b)
	if err != nil {
		return err
	}
	for _, k := range kids {
		res := r.deliver(ctx, k)
		if res.err != nil {
			return res.err
		}
		if res.ack {
			if err := r.spool.Ack(k); err != nil {
				return err
			}
			r.status.success(k.Count)
		}
	}
	return nil
}

// signInState logs "sign-in needed" once until a delivery succeeds.
type signInState struct {
	mu      sync.Mutex
	logged  bool
	log     func(error)
	onFirst func(error)
}

func (s *signInState) needed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logged {
		return
	}
	s.logged = true
	s.log(err)
	if s.onFirst != nil {
		s.onFirst(err)
	}
}

func (s *signInState) resolved() {
	s.mu.Lock()
	s.logged = false
	s.mu.Unlock()
}

func needsSignIn(err error) bool {
	if auth.SignInLost(err) || errors.Is(err, ErrForbidden) {
		return true
	}
	// An app credential that the identity service refuses, or that cannot
	// be loaded, waits for someone to fix it as a lost sign-in does.
	var ae *auth.Error
	if errors.As(err, &ae) {
		switch ae.Kind {
		case auth.KindTenantRequired, auth.KindCredential, auth.KindBadSecret, auth.KindSecretExpired,
			auth.KindCertificateNotRegistered, auth.KindBadAssertion, auth.KindFederationMismatch, auth.KindResourceNotFound:
			return true
		}
	}
	var api *azmaps.APIError
	return errors.As(err, &api) && api.Status == 401
}
