package report

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/backoff"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

// Maps is the part of the Maps client delivery uses.
type Maps interface {
	Upload(ctx context.Context, body azmaps.Body, description string) (azmaps.Operation, error)
	Wait(ctx context.Context, op azmaps.Operation) (string, error)
	OperationURL(id string) azmaps.Operation
	List(ctx context.Context) ([]azmaps.Metadata, error)
	Metadata(ctx context.Context, udid string) (azmaps.Metadata, error)
}

// Description is what a batch's upload is described as; users find a
// device's data by it ('mapsdevice geofence list').
func Description(batchID, deviceID string) string {
	return fmt.Sprintf("mapsdevice readings batch %s device %s", batchID, deviceID)
}

// deliverBatch gets one batch to Maps exactly once: an operation already
// accepted is followed, an attempt whose outcome is unknown is looked up
// by its batch id before anything is sent again.
func (r *Reporter) deliverBatch(ctx context.Context, b spool.Batch) error {
	if b.Operation != "" {
		_, err := r.maps.Wait(ctx, r.maps.OperationURL(b.Operation))
		var oe *azmaps.OperationError
		switch {
		case err == nil:
			return r.spool.Ack(b)
		case errors.As(err, &oe):
			r.log.Warn("the service refused a batch; sending it again", "batch", b.ID, "code", oe.Code)
			b.Operation = ""
		default:
			return err
		}
	} else if b.Attempts > 0 {
		done, err := r.alreadyStored(ctx, b)
		if err != nil {
			return err
		}
		if done {
			return r.spool.Ack(b)
		}
	}
	body, err := featureCollection(b.ID, b.Records)
	if err != nil {
		return err
	}
	b.Attempts++
	if err := r.spool.Save(b); err != nil {
		return err
	}
	op, err := r.maps.Upload(ctx, azmaps.BytesBody(body), Description(b.ID, r.deviceOf(b)))
	if err != nil {
		return err
	}
	b.Operation = op.ID
	if err := r.spool.Save(b); err != nil {
		return err
	}
	if _, err := r.maps.Wait(ctx, op); err != nil {
		return err
	}
	return r.spool.Ack(b)
}

func (r *Reporter) deviceOf(b spool.Batch) string {
	if len(b.Records) > 0 {
		if _, rd, err := stored(b.Records[0]); err == nil {
			return rd.DeviceID
		}
	}
	return r.opts.DeviceID
}

// alreadyStored looks for a batch's upload among the account's data,
// waiting out one still Pending.
func (r *Reporter) alreadyStored(ctx context.Context, b spool.Batch) (bool, error) {
	list, err := r.maps.List(ctx)
	if err != nil {
		return false, err
	}
	marker := "batch " + b.ID + " "
	for _, m := range list {
		if !strings.Contains(m.Description+" ", marker) {
			continue
		}
		for m.UploadStatus == "Pending" {
			if err := r.sleep(ctx, time.Second); err != nil {
				return false, err
			}
			if m, err = r.maps.Metadata(ctx, m.UDID); err != nil {
				return false, err
			}
		}
		if m.UploadStatus == "Completed" {
			r.log.Info("a batch sent before a restart had arrived; not sending it again", "batch", b.ID, "udid", m.UDID)
			return true, nil
		}
	}
	return false, nil
}

// deliverLoop sends batches as they fill or age, backing off on failures.
// With drain it returns once the spool is empty.
func (r *Reporter) deliverLoop(ctx context.Context, drain <-chan struct{}) error {
	failures := 0
	signInLogged := false
	draining := false
	for {
		if !draining {
			select {
			case <-drain:
				draining = true
			default:
			}
		}
		st, err := r.spool.Stats()
		if err != nil {
			return err
		}
		ready := st.Depth >= r.opts.BatchSize || (st.Depth > 0 && (draining || r.clock.Now().Sub(st.Oldest) >= r.opts.MaxDelay))
		if !ready {
			if draining && st.Depth == 0 {
				return nil
			}
			wait := r.opts.MaxDelay
			if st.Depth > 0 {
				wait = max(10*time.Millisecond, r.opts.MaxDelay-r.clock.Now().Sub(st.Oldest))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-r.newData:
			case <-drain:
				draining = true
			case <-r.clock.After(wait):
			}
			continue
		}
		b, ok, err := r.spool.Next(r.opts.BatchSize, newBatchID)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		err = r.deliverBatch(ctx, b)
		if ctx.Err() != nil {
			return nil // stopping: the batch stays spooled under its id
		}
		if err == nil {
			failures, signInLogged = 0, false
			r.status.success(len(b.Records))
			r.log.Debug("delivered", "batch", b.ID, "readings", len(b.Records))
			continue
		}
		r.status.failure(err)
		failures++
		delay := backoff.Policy{Base: time.Second, Max: 5 * time.Minute}.Delay(failures - 1)
		if needsSignIn(err) {
			delay = r.opts.SignInRetry
			if !signInLogged {
				r.log.Error("sign-in needed: readings keep spooling, and delivery resumes by itself once signed in", "error", err.Error())
				if r.opts.OnSignInNeeded != nil {
					r.opts.OnSignInNeeded(err)
				}
				signInLogged = true
			}
		} else {
			r.log.Warn("delivery failed; will retry", "error", err.Error(), "retry_in", delay.Round(time.Millisecond).String(), "spooled", st.Depth)
		}
		if err := r.sleep(ctx, delay); err != nil {
			return nil
		}
	}
}

func needsSignIn(err error) bool {
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Kind == auth.KindSignInNeeded {
		return true
	}
	var api *azmaps.APIError
	return errors.As(err, &api) && api.Status == 401
}

func newBatchID() string {
	var b [8]byte
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return fmt.Sprintf("%x", b)
}
