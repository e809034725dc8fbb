// Package spool is the sensor node's durable queue of readings on disk.
//
// It is built on go.etcd.io/bbolt: a well-kept, pure-Go, single-file B+tree
// with ACID transactions and an fsync per commit, used by etcd for years.
// A crash leaves the last committed state, never a torn record, which is
// what "a reading is accepted only after its commit" needs. Appends from
// many callers are grouped into one transaction (one fsync), so a fast
// sensor is not limited by the disk's sync rate.
//
// Readings are kept under increasing sequence numbers. The batch being
// delivered is recorded with its id before the first attempt, so after a
// crash the same readings go out under the same batch id.
package spool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Policy is what Append does when the spool is full.
type Policy string

// The policies.
const (
	DropOldest Policy = "drop-oldest"
	Block      Policy = "block"
)

var (
	bucketReadings = []byte("readings")
	bucketMeta     = []byte("meta")
	keyCounters    = []byte("counters")
	keyBatch       = []byte("batch")
)

// Counters survive restarts.
type Counters struct {
	NextSeq      uint64 `json:"nextSeq"`
	Depth        int    `json:"depth"`
	Accepted     uint64 `json:"accepted"`
	Delivered    uint64 `json:"delivered"`
	Dropped      uint64 `json:"dropped"`
	DeadLettered uint64 `json:"deadLettered"`
}

// Batch is a run of readings delivered together.
type Batch struct {
	ID       string `json:"id"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	Attempts int    `json:"attempts"`
	// Operation is the service's operation id once an upload was accepted.
	Operation string   `json:"operation,omitempty"`
	Records   [][]byte `json:"-"`
}

// Spool is an open spool.
type Spool struct {
	db     *bolt.DB
	max    int
	policy Policy
	now    func() time.Time

	appends chan *appendReq
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the committer has stopped
	space   chan struct{} // signalled when readings leave

	mu     sync.Mutex // guards closed
	closed bool
}

type appendReq struct {
	recs [][]byte
	err  chan error
}

// ErrFull is returned by a blocking Append whose context ended first.
var ErrFull = errors.New("the spool is full")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("the spool is closed")

// Open opens or creates the spool file. max bounds the readings kept: with
// DropOldest the oldest go first (never those of the batch in flight, which
// may overflow the bound by its size); with Block, Append waits for room.
// now stamps readings as they are accepted (nil means time.Now).
func Open(path string, max int, policy Policy, now func() time.Time) (*Spool, error) {
	if max <= 0 {
		return nil, fmt.Errorf("spool size %d: must be at least 1", max)
	}
	if policy != DropOldest && policy != Block {
		return nil, fmt.Errorf("spool policy %q: use drop-oldest or block", policy)
	}
	if now == nil {
		now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open spool %s: another process is using it", path)
		}
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{db: db, max: max, policy: policy, now: now, appends: make(chan *appendReq, 64), quit: make(chan struct{}), done: make(chan struct{}), space: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketReadings); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		var c Counters
		if raw := meta.Get(keyCounters); raw != nil {
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("spool counters: %w", err)
			}
		}
		// Count again: the readings themselves are the truth.
		c.Depth = tx.Bucket(bucketReadings).Stats().KeyN
		return s.save(tx, c)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open spool: %w", err)
	}
	go s.commitLoop()
	return s, nil
}

// Close stops the committer and closes the file.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.done
	return s.db.Close()
}

// Append commits readings; when it returns nil they are on disk. With the
// block policy it waits for room until ctx ends.
func (s *Spool) Append(ctx context.Context, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	for {
		req := &appendReq{recs: recs, err: make(chan error, 1)}
		select {
		case s.appends <- req:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return ErrClosed
		}
		var err error
		select {
		case err = <-req.err:
		case <-s.done: // closed before this was committed
			return ErrClosed
		}
		if errors.Is(err, errPartial) {
			recs = req.recs
			continue
		}
		if !errors.Is(err, ErrFull) {
			return err
		}
		select { // block policy: wait for deliveries to make room
		case <-s.space:
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ErrFull
		}
	}
}

// commitLoop groups every waiting Append into one transaction.
func (s *Spool) commitLoop() {
	defer close(s.done)
	for {
		var first *appendReq
		select {
		case first = <-s.appends:
		case <-s.quit:
			return
		}
		group := []*appendReq{first}
	drain:
		for len(group) < 256 {
			select {
			case r := <-s.appends:
				group = append(group, r)
			default:
				break drain
			}
		}
		errs := s.commit(group)
		for i, r := range group {
			r.err <- errs[i]
		}
	}
}

func (s *Spool) commit(group []*appendReq) []error {
	errs := make([]error, len(group))
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReadings)
		c := s.load(tx)
		for i, r := range group {
			recs := r.recs
			if s.policy == Block {
				room := s.max - c.Depth
				if room <= 0 {
					errs[i] = ErrFull
					continue
				}
				if len(recs) > room {
					recs, r.recs = recs[:room], recs[room:]
					errs[i] = errPartial
				}
			}
			for _, rec := range recs {
				c.NextSeq++
				if err := b.Put(seqKey(c.NextSeq), stamp(now, rec)); err != nil {
					return err
				}
			}
			c.Depth += len(recs)
			c.Accepted += uint64(len(recs))
		}
		if over := c.Depth - s.max; over > 0 {
			dropped, err := dropOldest(b, over, s.batchOf(tx))
			if err != nil {
				return err
			}
			c.Depth -= dropped
			c.Dropped += uint64(dropped)
		}
		return s.save(tx, c)
	})
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("commit readings: %w", err)
		}
	}
	return errs
}

// errPartial tells Append that only some readings fitted; the rest are
// left in the request for another try.
var errPartial = errors.New("spool: part committed")

// dropOldest removes up to n readings, sparing the batch in flight.
func dropOldest(b *bolt.Bucket, n int, batch *Batch) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < n; k, _ = c.Next() {
		if seq := binary.BigEndian.Uint64(k); batch != nil && seq >= batch.First && seq <= batch.Last {
			continue
		}
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// load reads the counters as this transaction sees them.
func (s *Spool) load(tx *bolt.Tx) Counters {
	var c Counters
	if raw := tx.Bucket(bucketMeta).Get(keyCounters); raw != nil {
		_ = json.Unmarshal(raw, &c)
	}
	return c
}

func (s *Spool) save(tx *bolt.Tx, c Counters) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyCounters, raw)
}

func (s *Spool) batchOf(tx *bolt.Tx) *Batch {
	raw := tx.Bucket(bucketMeta).Get(keyBatch)
	if raw == nil {
		return nil
	}
	var b Batch
	if json.Unmarshal(raw, &b) != nil {
		return nil
	}
	return &b
}

// Next returns the batch to deliver: the one in flight, if a delivery was
// interrupted, or else a new one of up to n of the oldest readings, whose
// id is recorded before anything is sent. ok is false when the spool is
// empty.
func (s *Spool) Next(n int, newID func() string) (Batch, bool, error) {
	var out Batch
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReadings).Cursor()
		if cur := s.batchOf(tx); cur != nil {
			out = *cur
			for k, v := c.Seek(seqKey(out.First)); k != nil && binary.BigEndian.Uint64(k) <= out.Last; k, v = c.Next() {
				out.Records = append(out.Records, record(v))
			}
			if len(out.Records) > 0 {
				return nil
			}
			out = Batch{} // its readings are gone: start afresh
		}
		for k, v := c.First(); k != nil && len(out.Records) < n; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if len(out.Records) == 0 {
				out.First = seq
			}
			out.Last = seq
			out.Records = append(out.Records, record(v))
		}
		if len(out.Records) == 0 {
			return tx.Bucket(bucketMeta).Delete(keyBatch)
		}
		out.ID = newID()
		return putBatch(tx, out)
	})
	if err != nil {
		return Batch{}, false, fmt.Errorf("read spool: %w", err)
	}
	return out, len(out.Records) > 0, nil
}

func putBatch(tx *bolt.Tx, b Batch) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyBatch, raw)
}

// Save records the batch's attempts and operation.
func (s *Spool) Save(b Batch) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return putBatch(tx, b) })
	if err != nil {
		return fmt.Errorf("record delivery attempt: %w", err)
	}
	return nil
}

// Ack removes a delivered batch's readings.
func (s *Spool) Ack(b Batch) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketReadings)
		cur := bucket.Cursor()
		var keys [][]byte
		for k, _ := cur.Seek(seqKey(b.First)); k != nil && binary.BigEndian.Uint64(k) <= b.Last; k, _ = cur.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := bucket.Delete(k); err != nil {
				return err
			}
		}
		c := s.load(tx)
		c.Depth -= len(keys)
		c.Delivered += uint64(len(keys))
		if err := tx.Bucket(bucketMeta).Delete(keyBatch); err != nil {
			return err
		}
		return s.save(tx, c)
	})
	if err != nil {
		return fmt.Errorf("remove delivered readings: %w", err)
	}
	select {
	case s.space <- struct{}{}:
	default:
	}
	return nil
}

// DeadLettered counts readings refused as malformed.
func (s *Spool) DeadLettered(n int) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := s.load(tx)
		c.DeadLettered += uint64(n)
		return s.save(tx, c)
	})
}

// Stats is the spool's state.
type Stats struct {
	Counters
	// Oldest is when the oldest reading still spooled was accepted.
	Oldest time.Time `json:"oldest,omitempty"`
}

// Stats reads the counters and the oldest reading's age.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Counters = s.load(tx)
		if _, v := tx.Bucket(bucketReadings).Cursor().First(); len(v) >= 8 {
			st.Oldest = time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
		}
		return nil
	})
	return st, err
}

// stamp prefixes a reading with the time it was accepted, as stored.
func stamp(now time.Time, reading []byte) []byte {
	out := make([]byte, 8, 8+len(reading))
	binary.BigEndian.PutUint64(out, uint64(now.UnixNano()))
	return append(out, reading...)
}

// record strips the acceptance stamp from a stored value.
func record(v []byte) []byte {
	if len(v) < 8 {
		return nil
	}
	return append([]byte(nil), v[8:]...)
}
