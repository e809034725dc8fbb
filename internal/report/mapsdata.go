package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/report/spool"
)

// Maps is the part of the Maps client the maps-data sink uses.
type Maps interface {
	Upload(ctx context.Context, body azmaps.Body, description string) (azmaps.Operation, error)
	Wait(ctx context.Context, op azmaps.Operation) (string, error)
	OperationURL(id string) azmaps.Operation
	List(ctx context.Context) ([]azmaps.Metadata, error)
	Metadata(ctx context.Context, udid string) (azmaps.Metadata, error)
}

// batchNotes keep what the maps-data sink learns of a batch between sends:
// an upload's operation, and whether an attempt was made.
type batchNotes interface {
	Notes(batchID string) (spool.Notes, error)
	SetNotes(batchID string, n spool.Notes) error
}

// MapsData is the maps-data sink: each batch is a Data v2 upload
// described with its batch id, for the emulator or a compatible endpoint.
type MapsData struct {
	maps  Maps
	log   *slog.Logger
	notes batchNotes
	sleep func(ctx context.Context, d time.Duration) error
}

// NewMapsData makes the maps-data sink. A reporter gives it the spool to
// keep its notes in.
func NewMapsData(maps Maps, log *slog.Logger) *MapsData {
	return &MapsData{maps: maps, log: log}
}

// Name is the sink's name.
func (m *MapsData) Name() string { return "maps-data" }

// attach gives the sink the reporter's spool and clock.
func (m *MapsData) attach(notes batchNotes, sleep func(context.Context, time.Duration) error) {
	m.notes, m.sleep = notes, sleep
}

// Description is what a batch's upload is described as; users find a
// device's data by it ('mapsdevice geofence list').
func Description(batchID, deviceID string) string {
	return fmt.Sprintf("mapsdevice readings batch %s device %s", batchID, deviceID)
}

// Send gets one batch to Maps exactly once: an operation already accepted
// is followed, an attempt whose outcome is unknown is looked up by its
// batch id before anything is sent again.
func (m *MapsData) Send(ctx context.Context, b Batch) error {
	if m.notes == nil {
		return errors.New("the maps-data sink has no spool")
	}
	n, err := m.notes.Notes(b.ID)
	if err != nil {
		return err
	}
	if n.Operation != "" {
		_, err := m.maps.Wait(ctx, m.maps.OperationURL(n.Operation))
		var oe *azmaps.OperationError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &oe):
			if rej := refusal(err); rej != nil {
				return rej
			}
			m.log.Warn("the service failed to store a batch; sending it again", "batch", b.ID, "code", oe.Code)
			n.Operation = ""
		default:
			return err
		}
	} else if n.Attempts > 0 {
		done, err := m.alreadyStored(ctx, b)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
	body, err := featureCollection(b.ID, bytes.Split(bytes.TrimSuffix(b.Body, []byte("\n")), []byte("\n")))
	if err != nil {
		return &RejectedError{Status: 400, Reason: err.Error()}
	}
	n.Attempts++
	if err := m.notes.SetNotes(b.ID, n); err != nil {
		return err
	}
	op, err := m.maps.Upload(ctx, azmaps.BytesBody(body), Description(b.ID, b.DeviceID))
	if err != nil {
		if rej := refusal(err); rej != nil {
			return rej
		}
		return err
	}
	n.Operation = op.ID
	if err := m.notes.SetNotes(b.ID, n); err != nil {
		return err
	}
	if _, err := m.maps.Wait(ctx, op); err != nil {
		if rej := refusal(err); rej != nil {
			return rej
		}
		return err
	}
	return nil
}

// refusal is err as a RejectedError when the service refused the data
// itself: a 4xx other than sign-in and throttling, or an operation that
// failed validation. Other failures are worth another try.
func refusal(err error) *RejectedError {
	var api *azmaps.APIError
	if errors.As(err, &api) && api.Status >= 400 && api.Status < 500 {
		switch api.Status {
		case 401, 403, 404, 408, 409, 429:
			return nil
		}
		return &RejectedError{Status: api.Status, Reason: strings.TrimSpace(api.Code + " " + api.Message)}
	}
	var oe *azmaps.OperationError
	if errors.As(err, &oe) && len(oe.Details) > 0 {
		reason := oe.Code + ": " + oe.Message
		for _, d := range oe.Details {
			reason += "; " + d.Code + ": " + d.Message
		}
		return &RejectedError{Status: 400, Reason: reason}
	}
	return nil
}

// alreadyStored looks for a batch's upload among the account's data,
// waiting out one still Pending.
func (m *MapsData) alreadyStored(ctx context.Context, b Batch) (bool, error) {
	list, err := m.maps.List(ctx)
	if err != nil {
		return false, err
	}
	marker := "batch " + b.ID + " "
	for _, md := range list {
		if !strings.Contains(md.Description+" ", marker) {
			continue
		}
		for md.UploadStatus == "Pending" {
			if err := m.sleep(ctx, time.Second); err != nil {
				return false, err
			}
			if md, err = m.maps.Metadata(ctx, md.UDID); err != nil {
				return false, err
			}
		}
		if md.UploadStatus == "Completed" {
			m.log.Info("a batch sent before a restart had arrived; not sending it again", "batch", b.ID, "udid", md.UDID)
			return true, nil
		}
	}
	return false, nil
}
