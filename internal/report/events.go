package report

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// Fencer measures a reading against the device's fences. A fence that is
// neither in the answer's geometries nor listed as expired or out of
// period is more than the search buffer outside.
type Fencer interface {
	Check(ctx context.Context, r Reading) (geofence.Result, error)
}

// LocalFences evaluates fences on the device through geofence.Index,
// the engine of the on-device geofence check.
type LocalFences struct{ index *geofence.Index }

// NewLocalFences indexes fences for Check.
func NewLocalFences(fences []geofence.Fence) LocalFences {
	return LocalFences{geofence.NewIndex(fences)}
}

// Check measures a reading locally.
func (f LocalFences) Check(_ context.Context, r Reading) (geofence.Result, error) {
	return f.index.Evaluate(geofence.Query{Lat: r.Lat, Lon: r.Lon, SearchBuffer: 500, UserTime: r.Time}), nil
}

// ServiceFences asks the Spatial service: by udid (GET) or with a local
// file sent along (POST).
type ServiceFences struct {
	Client *azmaps.Client
	UDID   string
	Body   []byte
}

// Check asks the service.
func (f ServiceFences) Check(ctx context.Context, r Reading) (geofence.Result, error) {
	buffer := 500.0
	req := azmaps.GeofenceRequest{DeviceID: r.DeviceID, UDID: f.UDID, Lat: r.Lat, Lon: r.Lon, Z: r.Z, UserTime: r.Time, SearchBuffer: &buffer}
	var body *azmaps.Body
	if f.Body != nil {
		b := azmaps.BytesBody(f.Body)
		body = &b
	}
	res, err := f.Client.Geofence(ctx, req, body)
	if err != nil {
		return geofence.Result{}, err
	}
	return res.Result, nil
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
	inside map[string]map[string]bool // device, then geometry
	out    io.Writer
	// save, if set, keeps the state after a change, so a restart does
	// not repeat an enter.
	save func(state []byte)
}

func (t *transitions) observe(r Reading, res geofence.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	inside := t.inside[r.DeviceID]
	if inside == nil {
		inside = map[string]bool{}
		t.inside[r.DeviceID] = inside
	}
	changed := false
	defer func() {
		if changed && t.save != nil {
			state, _ := json.Marshal(t.inside)
			t.save(state)
		}
	}()
	emit := func(event, id string, distance float64) {
		changed = true
		line, _ := json.Marshal(Event{Event: event, GeometryID: id, DeviceID: r.DeviceID, Time: r.Time, Distance: distance})
		t.out.Write(append(line, '\n'))
	}
	answered := make(map[string]bool, len(res.Geometries))
	for _, g := range res.Geometries {
		answered[g.GeometryID] = true
		in := geofence.Inside(g.Distance)
		if in == inside[g.GeometryID] {
			continue
		}
		if in {
			inside[g.GeometryID] = true
			emit("enter", g.GeometryID, g.Distance)
		} else {
			delete(inside, g.GeometryID)
			emit("exit", g.GeometryID, g.Distance)
		}
	}
	// A fence left out of the answer is far outside, unless it is out of
	// time, which says nothing of where the device is.
	for _, id := range res.ExpiredGeofenceGeometryID {
		answered[id] = true
	}
	for _, id := range res.InvalidPeriodGeofenceGeometryID {
		answered[id] = true
	}
	var left []string
	for id := range inside {
		if !answered[id] {
			left = append(left, id)
		}
	}
	slices.Sort(left)
	for _, id := range left {
		delete(inside, id)
		emit("exit", id, geofence.Far)
	}
}
