package emulator_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
)

const fence = `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500}}]}`

// keyed sends a Maps request with the primary shared key.
func keyed(t *testing.T, srv *emulator.Server, method, path string, q url.Values, body io.Reader) (int, string) {
	t.Helper()
	status, b, _ := keyedHeader(t, srv, method, path, q, body)
	return status, b
}

func keyedHeader(t *testing.T, srv *emulator.Server, method, path string, q url.Values, body io.Reader) (int, string, http.Header) {
	t.Helper()
	q.Set("subscription-key", srv.SharedKeys()[0])
	req, _ := http.NewRequestWithContext(t.Context(), method, srv.MapsEndpoint()+path+"?"+q.Encode(), body)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// startMaps starts an emulator in memory: the Maps side needs no port.
func startMaps(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	return emulatortest.StartInMemory(t, opts)
}

func TestStorageQuota(t *testing.T) {
	srv := startMaps(t, emulator.Options{MapsStorageQuota: int64(len(fence)) + 10, MapsOperationTime: time.Millisecond})
	q := func() url.Values { return url.Values{"api-version": {"2.0"}, "dataFormat": {"geojson"}} }
	if status, body := keyed(t, srv, "POST", "/mapData", q(), strings.NewReader(fence)); status != 202 {
		t.Fatalf("first upload: %d %s", status, body)
	}
	time.Sleep(10 * time.Millisecond)
	status, body := keyed(t, srv, "POST", "/mapData", q(), strings.NewReader(fence))
	if status != 409 || !strings.Contains(body, "storage limit") {
		t.Errorf("over the quota: %d %s", status, body)
	}
}

// zeros is a body of n bytes that takes no memory.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

func TestUploadLimit(t *testing.T) {
	srv := startMaps(t, emulator.Options{})
	q := url.Values{"api-version": {"2.0"}, "dataFormat": {"geojson"}}
	status, body := keyed(t, srv, "POST", "/mapData", q, &zeros{n: 100<<20 + 1})
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "100 MB") {
		t.Errorf("an upload of 100 MB + 1 byte: %d %s", status, body)
	}
}

func TestGeofenceQueryErrors(t *testing.T) {
	srv := startMaps(t, emulator.Options{})
	base := func() url.Values {
		return url.Values{"api-version": {"2022-08-01"}, "deviceId": {"d"}, "udid": {"6d617073-6163-4063-8f75-6e7400000099"}, "lat": {"47.6"}, "lon": {"-122.1"}}
	}
	tests := []struct {
		name, key, value, want string
	}{
		{"no device", "deviceId", "", "NullDeviceId"},
		{"no udid", "udid", "", "NullUdid"},
		{"bad udid", "udid", "abc", "UdidWrongFormat"},
		{"bad lat", "lat", "91", "InvalidLatLon"},
		{"bad buffer", "searchBuffer", "501", "InvalidSearchBuffer"},
		{"bad time", "userTime", "noon", "InvalidUserTime"},
		{"bad mode", "mode", "Sometimes", "InvalidModeValue"},
		{"unknown udid", "", "", "NoUserDataWithUdid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base()
			if tt.key != "" {
				q.Set(tt.key, tt.value)
			}
			status, body := keyed(t, srv, "GET", "/spatial/geofence/json", q, nil)
			if status != 400 || !strings.Contains(body, `"code":"`+tt.want+`"`) {
				t.Errorf("%d %s, want 400 %s", status, body, tt.want)
			}
		})
	}
}
