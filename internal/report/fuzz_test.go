package report

import (
	"encoding/json"
	"testing"
)

// FuzzParse checks the reading parser: no panics, and what it accepts is
// stored as JSON that parses back to the same reading.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-21T10:00:00Z","lat":47.64,"lon":-122.13,"temperature":21.5}`))
	f.Add([]byte(`{"time":"2026-11-21T10:00:00.123+02:00","lat":-90,"lon":180,"z":12.5,"deviceId":"pi-1"}`))
	f.Add([]byte(`{"time":"yesterday","lat":1,"lon":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := Parse(line, "default")
		if err != nil {
			return
		}
		if r.DeviceID == "" || r.Lat < -90 || r.Lat > 90 || r.Lon < -180 || r.Lon > 180 {
			t.Fatalf("accepted %+v", r)
		}
		if !json.Valid(r.raw) {
			t.Fatalf("stored form is not JSON: %q", r.raw)
		}
		again, err := Parse(r.raw, "other")
		if err != nil || again.DeviceID != r.DeviceID || again.Lat != r.Lat || !again.Time.Equal(r.Time) {
			t.Fatalf("stored form reads back differently: %+v vs %+v (%v)", again, r, err)
		}
		if _, err := featureCollection("b", [][]byte{r.raw}); err != nil {
			t.Fatalf("cannot upload an accepted reading: %v", err)
		}
	})
}
