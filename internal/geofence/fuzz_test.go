package geofence

import (
	"errors"
	"testing"
)

// FuzzParse feeds anything to the geofence validator: it must never
// panic, and it either returns fences or problems that say where.
func FuzzParse(f *testing.F) {
	f.Add([]byte(guideSample))
	f.Add([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"geometryId":"a","radius":5}}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":{"geometryId":"p","validityTime":{"expiredTime":"2026-01-01T00:00:00Z","validityPeriod":[{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z","recurrenceType":"Weekly","recurrenceFrequency":2,"businessDayOnly":true}]}}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]]]},"properties":{"geometryId":"l","radius":50}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fences, err := ParseBytes(data)
		var inv *InvalidError
		switch {
		case err == nil:
			for _, fence := range fences {
				if fence.GeometryID == "" || fence.Geometry == nil {
					t.Fatalf("a valid fence without id or geometry: %+v", fence)
				}
				d, _ := Distance(fence, 47.6, -122.1)
				_ = d
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
