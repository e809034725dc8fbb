package report

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Batch is sealed in the spool before its first send and never re-cut; a
// resend after a crash carries the same ID and the same Body, byte for byte.
type Batch struct {
	ID       string    // {spoolEpoch}-{firstSeq:016x}; after a split, children {ID}.1, {ID}.2
	DeviceID string    // the device of its first reading
	First    time.Time // the time of its first reading (names the blob: never the clock at send time)
	Body     []byte    // NDJSON, one reading a line, each with "readingId" = {deviceId}:{spoolEpoch}:{seq}
	Count    int       // readings in Body
}

// Sink is where batches go.
type Sink interface {
	Name() string // "maps-data", "blob", "eventhubs", "https"
	// Send delivers b exactly once, or returns why not. A repeat of a batch
	// already stored must succeed (blob: 409 BlobAlreadyExists; https: the
	// replayed answer), except where the service cannot tell (Event Hubs:
	// at-least-once, readingId lets the consumer deduplicate).
	Send(ctx context.Context, b Batch) error
}

// RejectedError is a destination refusing a batch as invalid; the pipeline
// splits the batch to find the readings refused and dead-letters them with
// Reason.
type RejectedError struct {
	Status int
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("the destination refused the batch (%d): %s", e.Status, e.Reason)
}

// RetryAfterError is a destination that is throttling or busy; the batch
// goes again after After.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("the destination is busy, retry after %v: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// ErrForbidden is a 401 or 403 from the destination after a fresh token.
var ErrForbidden = errors.New("the destination refused these credentials")
