package report

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// Fencer measures a reading against the device's fences.
type Fencer interface {
	Check(ctx context.Context, r Reading) ([]geofence.GeometryResult, error)
}

// LocalFences evaluates fences on the device, with the same code the
// emulator uses for the Spatial service.
type LocalFences []geofence.Fence

// Check measures a reading locally.
func (f LocalFences) Check(_ context.Context, r Reading) ([]geofence.GeometryResult, error) {
	return geofence.Evaluate(f, geofence.Query{Lat: r.Lat, Lon: r.Lon, SearchBuffer: 500, UserTime: r.Time}).Geometries, nil
}

// ServiceFences asks the Spatial service: by udid (GET) or with a local
// file sent along (POST).
type ServiceFences struct {
	Client *azmaps.Client
	UDID   string
	Body   []byte
}

// Check asks the service.
func (f ServiceFences) Check(ctx context.Context, r Reading) ([]geofence.GeometryResult, error) {
	buffer := 500.0
	req := azmaps.GeofenceRequest{DeviceID: r.DeviceID, UDID: f.UDID, Lat: r.Lat, Lon: r.Lon, Z: r.Z, UserTime: r.Time, SearchBuffer: &buffer}
	var body *azmaps.Body
	if f.Body != nil {
		b := azmaps.BytesBody(f.Body)
		body = &b
	}
	res, err := f.Client.Geofence(ctx, req, body)
	if err != nil {
		return nil, err
	}
	return res.Geometries, nil
}

// Event is an enter or exit, as written to stdout.
type Event struct {
	Event      string    `json:"event"`
	GeometryID string    `json:"geometryId"`
	DeviceID   string    `json:"deviceId"`
	Time       time.Time `json:"time"`
	Distance   float64   `json:"distance"`
}

// transitions turns fence measurements into enter and exit events: a
// device is first assumed outside, so entering is reported at once and
// leaving only after an enter.
type transitions struct {
	mu     sync.Mutex
	inside map[string]bool // device + geometry
	out    io.Writer
}

func (t *transitions) observe(r Reading, results []geofence.GeometryResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range results {
		key := r.DeviceID + "\x00" + g.GeometryID
		in := geofence.Inside(g.Distance)
		if in == t.inside[key] {
			continue
		}
		t.inside[key] = in
		ev := Event{Event: "exit", GeometryID: g.GeometryID, DeviceID: r.DeviceID, Time: r.Time, Distance: g.Distance}
		if in {
			ev.Event = "enter"
		}
		line, _ := json.Marshal(ev)
		t.out.Write(append(line, '\n'))
	}
}
