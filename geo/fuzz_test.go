package geo

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
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

// FuzzAPIError reads error answers and Resource-Location values of any
// shape without panicking, and never echoes more than 64 KB.
func FuzzAPIError(f *testing.F) {
	f.Add(401, []byte(`{"error":{"code":"Unauthorized","message":"Access denied"}}`), `Bearer realm="https://atlas.microsoft.com/", error="invalid_token", error_description="x"`, "https://us.atlas.microsoft.com/mapData/metadata/0b1e?api-version=2.0")
	f.Add(404, []byte(``), ``, "https://h/mapData/0b1e?api-version=2.0")
	f.Add(500, []byte(`not json`), `error=`, `::`)
	f.Fuzz(func(t *testing.T, status int, body []byte, wwwAuth, location string) {
		if status < 100 || status > 999 {
			return
		}
		base, _ := url.Parse("https://us.atlas.microsoft.com")
		req, _ := http.NewRequest("GET", "https://us.atlas.microsoft.com/mapData?api-version=2.0", nil)
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
		resp.Header.Set("WWW-Authenticate", wwwAuth)
		e := readAPIError(resp, base)
		if e.Status != status || len(e.Message) > 64<<10 {
			t.Fatalf("status %d, message of %d bytes", e.Status, len(e.Message))
		}
		if udid, err := lastSegment(location); err == nil && (udid == "" || udid == "/") {
			t.Fatalf("empty udid from %q", location)
		}
		// Operation-Location: parsed, and refused unless on the endpoint.
		if u, err := url.Parse(location); err == nil && sameHost(u, base) != strings.EqualFold(u.Host, base.Host) && strings.EqualFold(u.Scheme, "https") {
			t.Fatalf("host check disagrees for %q", location)
		} else if err == nil {
			_ = lastPathSegment(u.Path)
		}
	})
}
