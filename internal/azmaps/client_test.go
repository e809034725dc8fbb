package azmaps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	orbgeo "github.com/paulmach/orb/geo"

	"github.com/paulmach/orb"
	"go.uber.org/goleak"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/azmaps"
)

const sample = `{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.126986,47.639754]},"properties":{"geometryId":"001","radius":500,"subType":"Circle"}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.14,47.63],[-122.12,47.63],[-122.12,47.65],[-122.14,47.65],[-122.14,47.63]]]},"properties":{"geometryId":"campus"}}]}`

var centre = orb.Point{-122.126986, 47.639754}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type fixture struct {
	srv    *emulator.Server
	tokens *emulatortest.Tokens
}

// newFixture starts an emulator in memory and signs user in through the
// real MSAL client over the in-memory transport, so every test runs the
// sign-in and the Maps client end to end without a port.
func newFixture(t *testing.T, opts emulator.Options, user string) fixture {
	t.Helper()
	if opts.MapsOperationTime == 0 {
		opts.MapsOperationTime = 300 * time.Millisecond
	}
	srv := emulatortest.StartInMemory(t, opts)
	return fixture{srv: srv, tokens: &emulatortest.Tokens{Client: emulatortest.SignIn(t, srv, user)}}
}

func (f fixture) client(t *testing.T, cfg azmaps.Config) *azmaps.Client {
	t.Helper()
	cfg.Endpoint = f.srv.MapsEndpoint()
	if cfg.Key == "" {
		cfg.Tokens = f.tokens
		if cfg.ClientID == "" {
			cfg.ClientID = f.srv.MapsClientID()
		}
	}
	cfg.HTTPClient = f.srv.Client()
	cfg.Backoff = 20 * time.Millisecond
	c, err := azmaps.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDataLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{}, emulator.ContributorUser)
	var stages []azmaps.Progress
	c := f.client(t, azmaps.Config{Progress: func(p azmaps.Progress) { stages = append(stages, p) }})
	ctx := t.Context()

	op, err := c.Upload(ctx, azmaps.BytesBody([]byte(sample)), "campus fences")
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	udid, err := c.Wait(ctx, op)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if len(stages) < 2 || stages[len(stages)-1].Status != "Succeeded" {
		t.Errorf("progress %+v", stages)
	}
	meta, err := c.Metadata(ctx, udid)
	if err != nil || meta.UploadStatus != "Completed" || meta.SizeInBytes != int64(len(sample)) || meta.Description != "campus fences" {
		t.Fatalf("Metadata: %+v, %v", meta, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].UDID != udid {
		t.Fatalf("List: %+v, %v", list, err)
	}
	var got bytes.Buffer
	if _, err := c.Download(ctx, udid, &got); err != nil || got.String() != sample {
		t.Fatalf("Download: %v (%d bytes)", err, got.Len())
	}
	smaller := strings.Replace(sample, `"radius":500`, `"radius":300`, 1)
	op, err = c.Update(ctx, udid, azmaps.BytesBody([]byte(smaller)), "")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Wait(ctx, op); err != nil || again != udid {
		t.Fatalf("Update kept udid %q? %v", again, err)
	}
	res, err := c.Geofence(ctx, azmaps.GeofenceRequest{DeviceID: "pi-1", UDID: udid, Lat: centre[1], Lon: centre[0], SearchBuffer: ptr(500.0)}, nil)
	if err != nil || len(res.Geometries) != 2 || res.Geometries[0].Distance != -300 {
		t.Fatalf("after the update the circle should be 300 m: %+v, %v", res.Geometries, err)
	}
	if err := c.Delete(ctx, udid); err != nil {
		t.Fatal(err)
	}
	_, err = c.Metadata(ctx, udid)
	var api *azmaps.APIError
	if !errors.As(err, &api) || api.Status != 400 {
		t.Errorf("metadata after delete: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestGeofenceGetAndPost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{}, emulator.ReaderUser)
	ctx := t.Context()
	// A Reader cannot upload: use the shared key for that.
	keyed := f.client(t, azmaps.Config{Key: f.srv.SharedKeys()[1]})
	op, err := keyed.Upload(ctx, azmaps.BytesBody([]byte(sample)), "")
	if err != nil {
		t.Fatal(err)
	}
	udid, err := keyed.Wait(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client(t, azmaps.Config{})
	away := orbgeo.PointAtBearingAndDistance(centre, 180, 1000)
	for _, tt := range []struct {
		name string
		body *azmaps.Body
	}{{"GET", nil}, {"POST", ptr(azmaps.BytesBody([]byte(sample)))}} {
		t.Run(tt.name, func(t *testing.T) {
			req := azmaps.GeofenceRequest{DeviceID: "pi-1", UDID: udid, Lat: centre[1], Lon: centre[0], SearchBuffer: ptr(500.0)}
			res, err := c.Geofence(ctx, req, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if d := res.Geometries[0].Distance; d > -499.5 || d < -500.5 {
				t.Errorf("at the centre: %v, want about -500", d)
			}
			req.Lat, req.Lon = away[1], away[0]
			res, _ = c.Geofence(ctx, req, tt.body)
			if d := res.Geometries[0].Distance; d < 499.5 || d > 500.5 {
				t.Errorf("1 km south: %v, want about 500", d)
			}
			if !strings.Contains(string(res.Raw), `"expiredGeofenceGeometryId"`) {
				t.Errorf("raw answer lacks the service's fields: %s", res.Raw)
			}
		})
	}
	t.Run("EnterAndExit lists every fence", func(t *testing.T) {
		// The mode decides which events the service publishes, not what
		// it answers: its documented EnterAndExit answers list every fence.
		far := orbgeo.PointAtBearingAndDistance(centre, 180, 5000)
		req := azmaps.GeofenceRequest{DeviceID: "truck-7", UDID: udid, Mode: "EnterAndExit"}
		for _, step := range []struct {
			name string
			at   orb.Point
			want []bool // inside the circle, inside the campus
		}{
			{"far away", far, []bool{false, false}},
			{"at the centre", centre, []bool{true, true}},
			{"again", centre, []bool{true, true}},
			{"1 km south", away, []bool{false, true}},
		} {
			req.Lat, req.Lon = step.at[1], step.at[0]
			res, err := c.Geofence(ctx, req, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []bool
			for _, g := range res.Geometries {
				got = append(got, g.Distance < 0)
			}
			if !slices.Equal(got, step.want) {
				t.Errorf("%s: inside %v, want %v", step.name, got, step.want)
			}
		}
	})
	t.Run("reader cannot upload", func(t *testing.T) {
		_, err := c.Upload(ctx, azmaps.BytesBody([]byte(sample)), "")
		var api *azmaps.APIError
		if !errors.As(err, &api) || api.Status != 403 {
			t.Errorf("Reader upload: %v, want 403", err)
		}
	})
}

func TestUploadFailsWithEveryProblem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{}, emulator.ContributorUser)
	c := f.client(t, azmaps.Config{})
	bad := strings.Replace(strings.Replace(sample, `"radius":500,`, "", 1), `"campus"`, `"001"`, 1)
	op, err := c.Upload(t.Context(), azmaps.BytesBody([]byte(bad)), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Wait(t.Context(), op)
	var oe *azmaps.OperationError
	if !errors.As(err, &oe) || len(oe.Details) != 2 {
		t.Fatalf("want a failed operation with 2 problems, got %v", err)
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{}, emulator.ContributorUser)
	ctx := t.Context()
	t.Run("expired token is refreshed once", func(t *testing.T) {
		c := f.client(t, azmaps.Config{})
		f.srv.ExpireAccessTokens()
		before := f.tokens.Fresh()
		if _, err := c.List(ctx); err != nil {
			t.Fatalf("List after expiry: %v", err)
		}
		if n := f.tokens.Fresh() - before; n != 1 {
			t.Errorf("%d fresh tokens asked for, want 1", n)
		}
	})
	t.Run("wrong x-ms-client-id", func(t *testing.T) {
		c := f.client(t, azmaps.Config{ClientID: "00000000-0000-0000-0000-000000000000"})
		_, err := c.List(ctx)
		var api *azmaps.APIError
		if !errors.As(err, &api) || api.Status != 401 || api.AuthError != "InvalidClientId" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("missing x-ms-client-id", func(t *testing.T) {
		tok, _ := f.tokens.Token(ctx, false)
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.MapsEndpoint()+"/mapData?api-version=2.0", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="https://atlas.microsoft.com/"`) ||
			!strings.Contains(string(body), "inspect WWW-Authenticate") {
			t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	})
	t.Run("bad shared key", func(t *testing.T) {
		c := f.client(t, azmaps.Config{Key: "not-a-key"})
		_, err := c.List(ctx)
		var api *azmaps.APIError
		if !errors.As(err, &api) || api.Status != 401 {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no token is not a network failure, and not tried again", func(t *testing.T) {
		tokens := &failingTokens{err: errors.New("not signed in")}
		c, err := azmaps.NewClient(azmaps.Config{Endpoint: f.srv.MapsEndpoint(), ClientID: f.srv.MapsClientID(), Tokens: tokens, HTTPClient: f.srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		before := len(f.srv.Requests())
		_, err = c.List(ctx)
		var te *azmaps.TokenError
		var ne *azmaps.NetworkError
		if !errors.As(err, &te) || errors.As(err, &ne) {
			t.Errorf("got %v, want a token error", err)
		}
		if tokens.calls != 1 || len(f.srv.Requests()) != before {
			t.Errorf("%d token calls and %d requests, want 1 and none", tokens.calls, len(f.srv.Requests())-before)
		}
	})
	t.Run("both shared keys work", func(t *testing.T) {
		for _, k := range f.srv.SharedKeys() {
			if _, err := f.client(t, azmaps.Config{Key: k}).List(ctx); err != nil {
				t.Errorf("key: %v", err)
			}
		}
	})
}

func TestRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{MapsRate: -1}, emulator.ContributorUser)
	ctx := t.Context()
	c := f.client(t, azmaps.Config{})
	count := func(e emulator.Endpoint) int {
		n := 0
		for _, r := range f.srv.Requests() {
			if r.Endpoint == e {
				n++
			}
		}
		return n
	}
	t.Run("429 with Retry-After", func(t *testing.T) {
		f.srv.InjectFault(emulator.EndpointMapData, emulator.Fault{Status: 429, RetryAfter: "1"})
		began, before := time.Now(), count(emulator.EndpointMapData)
		if _, err := c.List(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d < time.Second {
			t.Errorf("retried after %v, want the 1 s Retry-After", d)
		}
		if n := count(emulator.EndpointMapData) - before; n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("429 without Retry-After backs off", func(t *testing.T) {
		f.srv.InjectFault(emulator.EndpointMapData, emulator.Fault{Status: 429, Count: 3})
		before := count(emulator.EndpointMapData)
		if _, err := c.List(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(emulator.EndpointMapData) - before; n != 4 {
			t.Errorf("%d requests, want 4", n)
		}
	})
	t.Run("upload retried after 429", func(t *testing.T) {
		f.srv.InjectFault(emulator.EndpointMapData, emulator.Fault{Status: 429})
		if _, err := c.Upload(ctx, azmaps.BytesBody([]byte(sample)), ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("upload not retried after 500", func(t *testing.T) {
		f.srv.InjectFault(emulator.EndpointMapData, emulator.Fault{Status: 500})
		before := count(emulator.EndpointMapData)
		_, err := c.Upload(ctx, azmaps.BytesBody([]byte(sample)), "")
		var api *azmaps.APIError
		if !errors.As(err, &api) || api.Status != 500 || count(emulator.EndpointMapData)-before != 1 {
			t.Errorf("an upload whose fate is unknown was retried, or the error is wrong: %v", err)
		}
	})
	t.Run("5xx storm gives up with the last error", func(t *testing.T) {
		f.srv.InjectFault(emulator.EndpointMapData, emulator.Fault{Status: 503, Count: 5})
		before := count(emulator.EndpointMapData)
		_, err := c.List(ctx)
		var api *azmaps.APIError
		if !errors.As(err, &api) || api.Status != 503 {
			t.Errorf("got %v", err)
		}
		if n := count(emulator.EndpointMapData) - before; n != 5 {
			t.Errorf("%d tries, want 1 + 4 retries", n)
		}
	})
	t.Run("throttled by the rate limit", func(t *testing.T) {
		g := newFixture(t, emulator.Options{MapsRate: 5}, emulator.ContributorUser)
		c := g.client(t, azmaps.Config{Retries: -1})
		throttled := 0
		for range 20 {
			_, err := c.List(ctx)
			var api *azmaps.APIError
			if errors.As(err, &api) && api.Status == 429 {
				throttled++
			}
		}
		if throttled == 0 {
			t.Error("20 quick requests at 5 per second were never throttled")
		}
	})
}

// TestForeignOperationLocation uses a stand-in server: the emulator never
// points anywhere else, and that is the failure to produce.
func TestForeignOperationLocation(t *testing.T) {
	var sawAuth bool
	foreign := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = r.Header.Get("Authorization") != ""
	}))
	defer foreign.Close()
	maps := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Operation-Location", foreign.URL+"/mapData/operations/x?api-version=2.0")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer maps.Close()
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: maps.URL, Key: "secret", HTTPClient: maps.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Upload(t.Context(), azmaps.BytesBody([]byte(sample)), "")
	if !errors.Is(err, azmaps.ErrForeignHost) || sawAuth {
		t.Errorf("err %v; credentials sent to the other host: %v", err, sawAuth)
	}
}

// TestForeignNextLink: a nextLink on another host ('api --paginate') is
// not followed with the key; a stand-in, as above.
func TestForeignNextLink(t *testing.T) {
	var reached bool
	foreign := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	defer foreign.Close()
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: "https://maps.example", Key: "secret", HTTPClient: foreign.Client()})
	if err != nil {
		t.Fatal(err)
	}
	next, _ := url.Parse(foreign.URL + "/geocode?api-version=2026-01-01&skip=1")
	_, err = c.Send(t.Context(), azmaps.RawRequest{Method: http.MethodGet, URL: next})
	if !errors.Is(err, azmaps.ErrForeignHost) || reached {
		t.Errorf("err %v; the other host was reached: %v", err, reached)
	}
}

func TestResourceLocationForms(t *testing.T) {
	t.Parallel()
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprint("plain=", plain), func(t *testing.T) {
			f := newFixture(t, emulator.Options{PlainResourceLocation: plain}, emulator.ContributorUser)
			c := f.client(t, azmaps.Config{})
			op, err := c.Upload(t.Context(), azmaps.BytesBody([]byte(sample)), "")
			if err != nil {
				t.Fatal(err)
			}
			udid, err := c.Wait(t.Context(), op)
			if err != nil || len(udid) != 36 {
				t.Fatalf("udid %q, %v", udid, err)
			}
		})
	}
}

// TestRetiredServiceIsNamed stands in for the real Azure Maps host, which
// this machine cannot reach, answering a retired path as it does now.
func TestRetiredServiceIsNamed(t *testing.T) {
	gone := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	defer gone.Close()
	hc := gone.Client()
	tr := hc.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, gone.Listener.Addr().String())
	}
	tr.TLSClientConfig.InsecureSkipVerify = true // the stand-in's certificate is not for atlas.microsoft.com
	c, err := azmaps.NewClient(azmaps.Config{Endpoint: "https://us.atlas.microsoft.com", Key: "k", HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(t.Context())
	var api *azmaps.APIError
	if !errors.As(err, &api) || !api.Retired {
		t.Errorf("got %v, want a retired-service error", err)
	}
}

// failingTokens stands for a device that is not signed in.
type failingTokens struct {
	err   error
	calls int
}

func (f *failingTokens) Token(context.Context, bool) (string, error) {
	f.calls++
	return "", f.err
}
