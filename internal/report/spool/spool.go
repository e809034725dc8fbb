// Package spool is the sensor node's durable queue of readings on disk.
//
// It is built on go.etcd.io/bbolt: a well-kept, pure-Go, single-file B+tree
// with ACID transactions and an fsync per commit, used by etcd for years.
// A crash leaves the last committed state, never a torn record, which is
// what "a reading is accepted only after its commit" needs. Appends from
// many callers are grouped into one transaction (one fsync), so a fast
// sensor is not limited by the disk's sync rate.
//
// Readings are kept under increasing sequence numbers. Batches are sealed,
// body and all, before their first send and never re-cut, so after a crash
// the same bytes go out under the same batch id. Each spool has a random
// epoch, made when it is created, so a new spool never reuses batch ids.
package spool

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	bucketBatches  = []byte("batches")
	bucketNotes    = []byte("notes")
	bucketMeta     = []byte("meta")
	keyCounters    = []byte("counters")
	keyEpoch       = []byte("epoch")
	keyCheckpoint  = []byte("checkpoint")
	keyFences      = []byte("fences")
)

// Counters survive restarts.
type Counters struct {
	NextSeq      uint64 `json:"nextSeq"`
	Depth        int    `json:"depth"`
	Accepted     uint64 `json:"accepted"`
	Delivered    uint64 `json:"delivered"`
	Dropped      uint64 `json:"dropped"`
	DeadLettered uint64 `json:"deadLettered"`
	// Sealed is how many of the spooled readings are in sealed batches;
	// SealedThrough the last sequence number sealed.
	Sealed        int    `json:"sealed"`
	SealedThrough uint64 `json:"sealedThrough"`
}

// Batch is a sealed run of readings [First, Last] and the exact bytes
// that carry them.
type Batch struct {
	ID    string `json:"id"`
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	Count int    `json:"count"`
	Body  []byte `json:"body"`
}

// Notes are what a sink records about a batch between its sends.
type Notes struct {
	Attempts  int    `json:"attempts"`
	Operation string `json:"operation,omitempty"`
}

// Checkpoint is how far into an input file the spool holds: the file's
// device and inode, and the offset after the last line taken.
type Checkpoint struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
}

// Mark places an Append in an input file: Ends[i] is the offset after
// reading i, End the offset after everything the Append covers (lines
// dead-lettered included).
type Mark struct {
	Dev, Ino uint64
	Ends     []int64
	End      int64
}

// Spool is an open spool.
type Spool struct {
	db     *bolt.DB
	max    int
	policy Policy
	now    func() time.Time
	epoch  string

	appends chan *appendReq
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the committer has stopped
	space   chan struct{} // signalled when readings leave

	mu     sync.Mutex // guards closed
	closed bool
}

type appendReq struct {
	recs [][]byte
	mark *Mark
	err  chan error
}

// ErrFull is returned by a blocking Append whose context ended first.
var ErrFull = errors.New("the spool is full")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("the spool is closed")

// ErrSymlink is a spool file that is a symbolic link: it is not followed.
var ErrSymlink = errors.New("the spool file is a symbolic link")

// DamagedError is a spool file that cannot be read as a spool.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("spool %s is damaged: %v", e.Path, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Open opens or creates the spool file. max bounds the readings kept: with
// DropOldest the oldest go first (never those of sealed batches, which
// may overflow the bound); with Block, Append waits for room. now stamps
// readings as they are accepted (nil means time.Now). A file that is not
// a sound spool gives a *DamagedError.
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
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("open spool %s: %w", path, ErrSymlink)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	s := &Spool{db: db, max: max, policy: policy, now: now, appends: make(chan *appendReq, 64), quit: make(chan struct{}), done: make(chan struct{}), space: make(chan struct{}, 1)}
	if err := s.init(); err != nil {
		db.Close()
		return nil, &DamagedError{Path: path, Err: err}
	}
	go s.commitLoop()
	return s, nil
}

func openDB(path string) (db *bolt.DB, err error) {
	defer func() {
		// bbolt panics on some damaged pages; a damaged file is not a crash.
		if p := recover(); p != nil {
			err = &DamagedError{Path: path, Err: fmt.Errorf("%v", p)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	switch {
	case err == nil:
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open spool %s: another process is using it", path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return nil, &DamagedError{Path: path, Err: err}
	default:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("open spool: %w", err)
		}
		return nil, &DamagedError{Path: path, Err: err}
	}
	if cerr := check(db); cerr != nil {
		db.Close()
		return nil, &DamagedError{Path: path, Err: cerr}
	}
	return db, nil
}

// check walks every page once, so damage shows at start, not mid-run.
func check(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Spool) init() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketReadings, bucketBatches, bucketNotes, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		var c Counters
		if raw := meta.Get(keyCounters); raw != nil {
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("spool counters: %w", err)
			}
		}
		if e := meta.Get(keyEpoch); len(e) == 8 {
			s.epoch = string(e)
		} else {
			var b [4]byte
			rand.Read(b[:])
			s.epoch = hex.EncodeToString(b[:])
			if err := meta.Put(keyEpoch, []byte(s.epoch)); err != nil {
				return err
			}
		}
		// Count again: the readings and batches themselves are the truth.
		c.Depth = tx.Bucket(bucketReadings).Stats().KeyN
		c.Sealed = 0
		err := tx.Bucket(bucketBatches).ForEach(func(_, v []byte) error {
			var b Batch
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("sealed batch: %w", err)
			}
			c.Sealed += b.Count
			return nil
		})
		if err != nil {
			return err
		}
		return s.save(tx, c)
	})
}

// MoveAside renames a damaged spool to path.damaged-<time> and returns
// the new name.
func MoveAside(path string, now time.Time) (string, error) {
	to := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("move damaged spool aside: %w", err)
	}
	return to, nil
}

// Epoch is the spool's random id, made when it was created.
func (s *Spool) Epoch() string { return s.epoch }

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
// block policy it waits for room until ctx ends. A non-nil mark commits
// the input file's checkpoint in the same transaction.
func (s *Spool) Append(ctx context.Context, recs [][]byte, mark *Mark) error {
	if len(recs) == 0 && mark == nil {
		return nil
	}
	for {
		req := &appendReq{recs: recs, mark: mark, err: make(chan error, 1)}
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
			recs, mark = req.recs, req.mark
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
			if s.policy == Block && len(recs) > 0 {
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
			if r.mark != nil {
				cp := Checkpoint{Dev: r.mark.Dev, Ino: r.mark.Ino, Offset: r.mark.End}
				if errs[i] == errPartial {
					cp.Offset = r.mark.Ends[len(recs)-1]
					r.mark = &Mark{Dev: r.mark.Dev, Ino: r.mark.Ino, Ends: r.mark.Ends[len(recs):], End: r.mark.End}
				}
				if err := putJSON(tx, keyCheckpoint, cp); err != nil {
					return err
				}
			}
		}
		if over := c.Depth - s.max; over > 0 {
			dropped, err := dropOldest(b, over, c.SealedThrough)
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

// dropOldest removes up to n readings not yet sealed.
func dropOldest(b *bolt.Bucket, n int, sealedThrough uint64) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(seqKey(sealedThrough + 1)); k != nil && len(keys) < n; k, _ = c.Next() {
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
	return putJSON(tx, keyCounters, c)
}

func putJSON(tx *bolt.Tx, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(key, raw)
}

// Sealed returns the sealed batches, oldest first: after a restart, they
// go again unchanged.
func (s *Spool) Sealed() ([]Batch, error) {
	var out []Batch
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBatches).ForEach(func(_, v []byte) error {
			var b Batch
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read sealed batches: %w", err)
	}
	return out, nil
}

// Seal makes a batch of up to n of the oldest readings not yet sealed,
// stopping before the body would pass maxBytes (but taking at least one).
// line turns a reading into its line of the body (without the newline),
// id names the batch by its first sequence number. ok is false when there
// is nothing to seal.
func (s *Spool) Seal(n, maxBytes int, line func(seq uint64, rec []byte) []byte, id func(first uint64) string) (Batch, bool, error) {
	var out Batch
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := s.load(tx)
		cur := tx.Bucket(bucketReadings).Cursor()
		for k, v := cur.Seek(seqKey(c.SealedThrough + 1)); k != nil && out.Count < n; k, v = cur.Next() {
			seq := binary.BigEndian.Uint64(k)
			l := line(seq, record(v))
			if out.Count > 0 && len(out.Body)+len(l)+1 > maxBytes {
				break
			}
			if out.Count == 0 {
				out.First = seq
			}
			out.Last = seq
			out.Body = append(append(out.Body, l...), '\n')
			out.Count++
		}
		if out.Count == 0 {
			return nil
		}
		out.ID = id(out.First)
		c.Sealed += out.Count
		c.SealedThrough = out.Last
		if err := putBatch(tx, out); err != nil {
			return err
		}
		return s.save(tx, c)
	})
	if err != nil {
		return Batch{}, false, fmt.Errorf("seal batch: %w", err)
	}
	return out, out.Count > 0, nil
}

func putBatch(tx *bolt.Tx, b Batch) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketBatches).Put(seqKey(b.First), raw)
}

// Split re-seals a batch of two or more readings as two children,
// {ID}.1 and {ID}.2, in one transaction, before either is sent.
func (s *Spool) Split(b Batch) ([2]Batch, error) {
	var kids [2]Batch
	if b.Count < 2 {
		return kids, fmt.Errorf("split batch %s: it has %d reading", b.ID, b.Count)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		var seqs []uint64
		cur := tx.Bucket(bucketReadings).Cursor()
		for k, _ := cur.Seek(seqKey(b.First)); k != nil && binary.BigEndian.Uint64(k) <= b.Last; k, _ = cur.Next() {
			seqs = append(seqs, binary.BigEndian.Uint64(k))
		}
		lines := splitLines(b.Body)
		if len(seqs) != b.Count || len(lines) != b.Count {
			return fmt.Errorf("batch %s holds %d readings and %d lines, not %d", b.ID, len(seqs), len(lines), b.Count)
		}
		half := b.Count / 2
		parts := [2][2]int{{0, half}, {half, b.Count}}
		for i, p := range parts {
			kids[i] = Batch{ID: fmt.Sprintf("%s.%d", b.ID, i+1), First: seqs[p[0]], Last: seqs[p[1]-1], Count: p[1] - p[0]}
			for _, l := range lines[p[0]:p[1]] {
				kids[i].Body = append(append(kids[i].Body, l...), '\n')
			}
		}
		if err := tx.Bucket(bucketBatches).Delete(seqKey(b.First)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketNotes).Delete([]byte(b.ID)); err != nil {
			return err
		}
		for _, k := range kids {
			if err := putBatch(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return kids, fmt.Errorf("split batch: %w", err)
	}
	return kids, nil
}

func splitLines(body []byte) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		i := 0
		for i < len(body) && body[i] != '\n' {
			i++
		}
		out = append(out, body[:i])
		if i < len(body) {
			i++
		}
		body = body[i:]
	}
	return out
}

// Ack removes a delivered batch and its readings in one transaction.
func (s *Spool) Ack(b Batch) error {
	return s.remove(b, func(c *Counters, n int) { c.Delivered += uint64(n) }, "remove delivered readings")
}

// DeadLetter removes a batch whose readings went to the dead-letter file.
func (s *Spool) DeadLetter(b Batch) error {
	return s.remove(b, func(c *Counters, n int) { c.DeadLettered += uint64(n) }, "remove dead-lettered readings")
}

func (s *Spool) remove(b Batch, count func(*Counters, int), what string) error {
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
		batches := tx.Bucket(bucketBatches)
		if batches.Get(seqKey(b.First)) == nil {
			return nil // removed already
		}
		if err := batches.Delete(seqKey(b.First)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketNotes).Delete([]byte(b.ID)); err != nil {
			return err
		}
		c := s.load(tx)
		c.Depth -= len(keys)
		c.Sealed -= b.Count
		count(&c, len(keys))
		return s.save(tx, c)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	select {
	case s.space <- struct{}{}:
	default:
	}
	return nil
}

// Notes reads what a sink noted about a batch.
func (s *Spool) Notes(batchID string) (Notes, error) {
	var n Notes
	err := s.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketNotes).Get([]byte(batchID)); raw != nil {
			return json.Unmarshal(raw, &n)
		}
		return nil
	})
	if err != nil {
		return Notes{}, fmt.Errorf("read batch notes: %w", err)
	}
	return n, nil
}

// SetNotes records what a sink notes about a batch until it is removed.
func (s *Spool) SetNotes(batchID string, n Notes) error {
	raw, err := json.Marshal(n)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketNotes).Put([]byte(batchID), raw) })
	if err != nil {
		return fmt.Errorf("record delivery attempt: %w", err)
	}
	return nil
}

// DeadLettered counts readings refused at ingest.
func (s *Spool) DeadLettered(n int) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := s.load(tx)
		c.DeadLettered += uint64(n)
		return s.save(tx, c)
	})
}

// Checkpoint is the input file position last committed; ok is false if
// none was.
func (s *Spool) Checkpoint() (cp Checkpoint, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keyCheckpoint)
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, &cp)
	})
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read input checkpoint: %w", err)
	}
	return cp, ok, nil
}

// FenceState is what SetFenceState kept, or nil.
func (s *Spool) FenceState() ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = append([]byte(nil), tx.Bucket(bucketMeta).Get(keyFences)...)
		return nil
	})
	return out, err
}

// SetFenceState keeps which fences each device is inside.
func (s *Spool) SetFenceState(state []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFences, state) })
	if err != nil {
		return fmt.Errorf("record geofence state: %w", err)
	}
	return nil
}

// Stats is the spool's state.
type Stats struct {
	Counters
	// Oldest is when the oldest reading still spooled was accepted;
	// OldestUnsealed the same among those not yet in a batch.
	Oldest         time.Time `json:"oldest,omitempty"`
	OldestUnsealed time.Time `json:"-"`
}

// Unsealed is how many spooled readings are not yet in a batch.
func (st Stats) Unsealed() int { return st.Depth - st.Sealed }

// Stats reads the counters and the oldest readings' ages.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Counters = s.load(tx)
		cur := tx.Bucket(bucketReadings).Cursor()
		if _, v := cur.First(); len(v) >= 8 {
			st.Oldest = time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
		}
		if _, v := cur.Seek(seqKey(st.SealedThrough + 1)); len(v) >= 8 {
			st.OldestUnsealed = time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
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
