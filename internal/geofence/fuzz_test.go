package geofence

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds anything to the geofence validator: it must never
// panic, it either returns fences or problems that say where, and Parse
// and Validate agree.
func FuzzParse(f *testing.F) {
	f.Add([]byte(guideSample))
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"geometryId":"a","radius":5}}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":{"geometryId":"p","validityTime":{"expiredTime":"2026-01-01T00:00:00Z","validityPeriod":[{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z","recurrenceType":"Weekly","recurrenceFrequency":2,"businessDayOnly":true}]}}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]]]},"properties":{"geometryId":"l","radius":50}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fences, err := ParseBytes(data)
		// The streaming check, which keeps no fences, says the same.
		n, verr := Validate(bytes.NewReader(data))
		var inv, vinv *InvalidError
		if errors.As(err, &inv) != errors.As(verr, &vinv) || (inv != nil && !reflect.DeepEqual(inv.Problems, vinv.Problems)) ||
			(err == nil && (verr != nil || n != len(fences))) {
			t.Fatalf("Validate: %d fences, %v; Parse: %d fences, %v", n, verr, len(fences), err)
		}
		switch {
		case err == nil:
			for _, fence := range fences {
				if fence.GeometryID == "" || fence.Geometry == nil {
					t.Fatalf("a valid fence without id or geometry: %+v", fence)
				}
				d, _ := Distance(fence, 47.6, -122.1)
				_ = d
			}
			// The index must not panic on any valid fence either, here or
			// next to a fence's first vertex.
			ix := NewIndex(fences)
			ix.Evaluate(Query{Lat: 47.6, Lon: -122.1, SearchBuffer: 500})
			for _, fence := range fences {
				if parts := fenceParts(fence); len(parts) > 0 && len(parts[0].pts) > 0 {
					v := parts[0].pts[0]
					ix.Evaluate(Query{Lat: v[1] + 1e-5, Lon: v[0], SearchBuffer: 50})
				}
			}
		case errors.As(err, &inv):
			if len(inv.Problems) == 0 {
				t.Fatal("invalid with no problems")
			}
		default:
			t.Fatalf("unexpected error type: %v", err)
		}
	})
}
