package azmaps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/backoff"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// Operation is an accepted upload or update.
type Operation struct {
	ID       string `json:"operationId"`
	location *url.URL
}

// OperationStatus is what the status call says.
type OperationStatus struct {
	ID      string `json:"operationId"`
	Created string `json:"created"`
	Status  string `json:"status"` // NotStarted, Running, Succeeded, Failed
	Error   *struct {
		Code    string        `json:"code"`
		Message string        `json:"message"`
		Details []ErrorDetail `json:"details"`
	} `json:"error,omitempty"`
	// UDID is taken from Resource-Location once the operation succeeded.
	UDID string `json:"udid,omitempty"`
}

// OperationError is an operation that ended Failed.
type OperationError struct {
	Code, Message string
	Details       []ErrorDetail
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("the upload failed: %s: %s", e.Code, e.Message)
}

// Metadata describes stored map data.
type Metadata struct {
	UDID         string `json:"udid"`
	Location     string `json:"location,omitempty"`
	Created      string `json:"created,omitempty"`
	Updated      string `json:"updated,omitempty"`
	SizeInBytes  int64  `json:"sizeInBytes"`
	UploadStatus string `json:"uploadStatus"`
	DataFormat   string `json:"dataFormat,omitempty"`
	Description  string `json:"description,omitempty"`
}

func dataQuery(extra ...string) url.Values {
	q := url.Values{"api-version": {DataAPIVersion}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

// Upload sends GeoJSON and returns the accepted operation. A failed
// upload is tried again only when the service cannot have accepted it.
func (c *Client) Upload(ctx context.Context, body Body, description string) (Operation, error) {
	return c.startOperation(ctx, request{
		method: http.MethodPost,
		url:    c.endpointURL("/mapData", dataQuery("dataFormat", "geojson", "description", description)),
		body:   &body,
	})
}

// Update replaces the content of stored map data.
func (c *Client) Update(ctx context.Context, udid string, body Body, description string) (Operation, error) {
	return c.startOperation(ctx, request{
		method:     http.MethodPut,
		url:        c.endpointURL("/mapData/"+url.PathEscape(udid), dataQuery("description", description)),
		body:       &body,
		idempotent: true, // PUT replaces: sending it twice ends the same
	})
}

func (c *Client) startOperation(ctx context.Context, r request) (Operation, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return Operation{}, err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Operation-Location")
	u, err := url.Parse(loc)
	if err != nil || loc == "" {
		return Operation{}, fmt.Errorf("the service accepted the request but gave no usable Operation-Location")
	}
	if !sameHost(u, c.base) {
		return Operation{}, fmt.Errorf("Operation-Location is on %s: %w", u.Host, ErrForeignHost)
	}
	id := lastSegment(u.Path)
	if id == "." || id == "/" {
		return Operation{}, fmt.Errorf("the service accepted the request but its Operation-Location %q names no operation", loc)
	}
	return Operation{ID: id, location: u}, nil
}

// lastSegment is the last element of a URL path: an operation id or a udid.
func lastSegment(p string) string {
	return path.Base(strings.TrimRight(p, "/"))
}

// OperationURL rebuilds an operation from its id, to resume waiting.
func (c *Client) OperationURL(id string) Operation {
	return Operation{ID: id, location: c.endpointURL("/mapData/operations/"+url.PathEscape(id), dataQuery())}
}

// Status asks once how an operation is doing.
func (c *Client) Status(ctx context.Context, op Operation) (OperationStatus, time.Duration, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: op.location, idempotent: true})
	if err != nil {
		return OperationStatus{}, 0, err
	}
	defer resp.Body.Close()
	var st OperationStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return OperationStatus{}, 0, fmt.Errorf("read operation status: %w", err)
	}
	if st.Status == "Succeeded" {
		loc := resp.Header.Get("Resource-Location")
		if loc == "" {
			return st, 0, fmt.Errorf("the operation succeeded but gave no Resource-Location")
		}
		if st.UDID, err = resourceUDID(loc); err != nil {
			return st, 0, err
		}
	}
	after, ok := backoff.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if !ok {
		after = -1
	}
	return st, after, nil
}

// Wait polls an operation until it ends, honouring Retry-After, and
// returns the udid.
func (c *Client) Wait(ctx context.Context, op Operation) (string, error) {
	for {
		st, after, err := c.Status(ctx, op)
		if err != nil {
			return "", err
		}
		if c.cfg.Progress != nil {
			c.cfg.Progress(Progress{Stage: "operation", Status: st.Status})
		}
		switch st.Status {
		case "Succeeded":
			return st.UDID, nil
		case "Failed":
			e := &OperationError{Code: "Failed", Message: "no reason given"}
			if st.Error != nil {
				e.Code, e.Message, e.Details = st.Error.Code, st.Error.Message, st.Error.Details
			}
			return "", e
		}
		switch {
		case after < 0: // no Retry-After: poll each second
			after = time.Second
		case after < 100*time.Millisecond: // "0": soon, but no tight loop
			after = 100 * time.Millisecond
		}
		if err := backoff.Sleep(ctx, min(after, time.Minute)); err != nil {
			return "", err
		}
	}
}

// Metadata describes one upload.
func (c *Client) Metadata(ctx context.Context, udid string) (Metadata, error) {
	var m Metadata
	err := c.getJSON(ctx, "/mapData/metadata/"+url.PathEscape(udid), dataQuery(), &m)
	return m, err
}

// List lists the account's map data.
func (c *Client) List(ctx context.Context) ([]Metadata, error) {
	var l struct {
		List []Metadata `json:"mapDataList"`
	}
	err := c.getJSON(ctx, "/mapData", dataQuery(), &l)
	return l.List, err
}

// Download copies stored content to w.
func (c *Client) Download(ctx context.Context, udid string, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: c.endpointURL("/mapData/"+url.PathEscape(udid), dataQuery()), idempotent: true})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}

// Delete removes stored map data.
func (c *Client) Delete(ctx context.Context, udid string) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, url: c.endpointURL("/mapData/"+url.PathEscape(udid), dataQuery()), idempotent: true})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *Client) getJSON(ctx context.Context, p string, q url.Values, v any) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: c.endpointURL(p, q), idempotent: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	return nil
}

// GeofenceRequest is a position to check.
type GeofenceRequest struct {
	DeviceID     string
	UDID         string // for GET; empty with a body (POST)
	Lat, Lon     float64
	Z            *float64
	UserTime     time.Time
	SearchBuffer *float64
	Mode         string
}

// GeofenceResponse is the service's answer, kept raw too so it can be
// printed unchanged.
type GeofenceResponse struct {
	geofence.Result
	Raw json.RawMessage `json:"-"`
}

// Geofence checks a position against stored fences (GET with udid) or,
// with a body, against an inline FeatureCollection (POST).
func (c *Client) Geofence(ctx context.Context, g GeofenceRequest, body *Body) (GeofenceResponse, error) {
	q := url.Values{
		"api-version": {SpatialAPIVersion},
		"deviceId":    {g.DeviceID},
		"lat":         {strconvF(g.Lat)},
		"lon":         {strconvF(g.Lon)},
	}
	if g.Z != nil {
		q.Set("z", strconvF(*g.Z))
	}
	if !g.UserTime.IsZero() {
		q.Set("userTime", g.UserTime.UTC().Format(time.RFC3339))
	}
	if g.SearchBuffer != nil {
		q.Set("searchBuffer", strconvF(*g.SearchBuffer))
	}
	if g.Mode != "" {
		q.Set("mode", g.Mode)
	}
	r := request{method: http.MethodGet, url: c.endpointURL("/spatial/geofence/json", q), idempotent: true}
	if body != nil {
		r.method, r.body = http.MethodPost, body
	} else {
		q.Set("udid", g.UDID)
		r.url = c.endpointURL("/spatial/geofence/json", q)
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return GeofenceResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return GeofenceResponse{}, fmt.Errorf("read geofence answer: %w", err)
	}
	var gr GeofenceResponse
	if err := json.Unmarshal(raw, &gr); err != nil {
		return GeofenceResponse{}, fmt.Errorf("read geofence answer: %w", err)
	}
	gr.Raw = raw
	return gr, nil
}

func strconvF(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.7f", f), "0"), ".")
}

// Raw sends any request to the Maps endpoint with the configured auth.
// The path may carry no host of its own.
func (c *Client) Raw(ctx context.Context, method, p string, q url.Values, body *Body) (*http.Response, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return c.Send(ctx, RawRequest{Method: method, URL: c.endpointURL(p, q), Body: body})
}

// RawRequest is any request, for 'mapsdevice api'.
type RawRequest struct {
	Method string
	// URL is on the endpoint's own host: a path made with URL, or a
	// nextLink from an answer. Another host gets ErrForeignHost, so the
	// token never leaves for it.
	URL    *url.URL
	Header http.Header
	Body   *Body
}

// URL is p with its query on the endpoint.
func (c *Client) URL(p string, q url.Values) *url.URL {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return c.endpointURL(p, q)
}

// Send sends a request with the configured auth and retries, and returns
// a 2xx response or an *APIError.
func (c *Client) Send(ctx context.Context, r RawRequest) (*http.Response, error) {
	idempotent := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodPut || r.Method == http.MethodDelete
	return c.do(ctx, request{method: r.Method, url: r.URL, body: r.Body, idempotent: idempotent, header: r.Header})
}
