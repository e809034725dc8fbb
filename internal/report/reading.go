// Package report is the sensor node: readings in, through a durable spool,
// out to a sink in batches, with geofence enter and exit events.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Reading is one sensor reading.
type Reading struct {
	Time     time.Time
	Lat, Lon float64
	Z        *float64
	DeviceID string
	// raw is the reading as stored: the input object with deviceId set.
	raw []byte
}

// MaxLine is the longest reading accepted, in bytes.
const MaxLine = 64 << 10

// Parse reads one NDJSON line:
// {"time": RFC3339, "lat": .., "lon": .., "z"?: .., "deviceId"?: .., <other fields>}.
func Parse(line []byte, defaultDevice string) (Reading, error) {
	line = bytes.TrimSpace(line)
	if len(line) > MaxLine {
		return Reading{}, fmt.Errorf("the line is %d bytes; a reading may have at most %d", len(line), MaxLine)
	}
	if !utf8.Valid(line) {
		return Reading{}, errors.New("not valid UTF-8")
	}
	if key, ok := duplicateKey(line); ok {
		return Reading{}, fmt.Errorf("the key %q appears twice", key)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
		return Reading{}, errors.New("not a JSON object")
	}
	r, err := fields(obj)
	if err != nil {
		return Reading{}, err
	}
	if _, ok := obj["deviceId"]; !ok {
		r.DeviceID = defaultDevice
		obj["deviceId"], _ = json.Marshal(defaultDevice)
	}
	// readingId is the reporter's to give, when the reading is sent.
	delete(obj, "readingId")
	if r.raw, err = json.Marshal(obj); err != nil {
		return Reading{}, fmt.Errorf("encode reading: %w", err)
	}
	return r, nil
}

// fields reads and checks a reading's fields from its object.
func fields(obj map[string]json.RawMessage) (Reading, error) {
	var r Reading
	var ts string
	if err := json.Unmarshal(obj["time"], &ts); err != nil || ts == "" {
		return Reading{}, errors.New(`"time" is missing or not a string like 2026-01-31T08:00:00Z`)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Reading{}, fmt.Errorf(`"time" %q is not RFC 3339`, ts)
	}
	r.Time = t
	if err := number(obj, "lat", &r.Lat, -90, 90); err != nil {
		return Reading{}, err
	}
	if err := number(obj, "lon", &r.Lon, -180, 180); err != nil {
		return Reading{}, err
	}
	if _, ok := obj["z"]; ok {
		var z float64
		if err := number(obj, "z", &z, -1e5, 1e5); err != nil {
			return Reading{}, err
		}
		r.Z = &z
	}
	if raw, ok := obj["deviceId"]; ok {
		if err := json.Unmarshal(raw, &r.DeviceID); err != nil || r.DeviceID == "" {
			return Reading{}, errors.New(`"deviceId" must be a non-empty string`)
		}
	}
	return r, nil
}

// duplicateKey finds a key that appears twice in one object, at any
// depth: encoding/json would silently keep the last.
func duplicateKey(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // malformed JSON is refused elsewhere
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.keys[key] {
				return key, true
			}
			top.keys[key] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the object it belongs to expects a key next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

func number(obj map[string]json.RawMessage, key string, out *float64, min, max float64) error {
	raw, ok := obj[key]
	if !ok {
		return fmt.Errorf("%q is missing", key)
	}
	if err := json.Unmarshal(raw, out); err != nil || math.IsNaN(*out) {
		return fmt.Errorf("%q must be a number", key)
	}
	if *out < min || *out > max {
		return fmt.Errorf("%q %g is out of range %g to %g", key, *out, min, max)
	}
	return nil
}

// stored decodes a reading as kept in the spool.
func stored(raw []byte) (map[string]json.RawMessage, Reading, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, Reading{}, err
	}
	// Checked whole when it was accepted: only its fields are read.
	r, err := fields(obj)
	return obj, r, err
}

// featureCollection turns a batch of stored readings into the GeoJSON the
// Data service takes: one Point per reading, with the reading's fields as
// properties. Each Point also gets a geometryId and a 1 m radius, so the
// upload is a valid geofence set too.
func featureCollection(batchID string, records [][]byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i, raw := range records {
		props, r, err := stored(raw)
		if err != nil {
			return nil, fmt.Errorf("spooled reading %d of batch %s: %w", i, batchID, err)
		}
		props["geometryId"], _ = json.Marshal(fmt.Sprintf("%s-%d", batchID, i))
		props["radius"] = json.RawMessage("1")
		props["batchId"], _ = json.Marshal(batchID)
		coords := []float64{r.Lon, r.Lat}
		if r.Z != nil {
			coords = append(coords, *r.Z)
		}
		point, err := json.Marshal(coords)
		if err != nil {
			return nil, err
		}
		properties, err := json.Marshal(props)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"Feature","geometry":{"type":"Point","coordinates":`)
		b.Write(point)
		b.WriteString(`},"properties":`)
		b.Write(properties)
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}
