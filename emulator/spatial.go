package emulator

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var spatialVersions = map[string]bool{"2022-08-01": true, "1.0": true}

// geofenceQuery is a checked Spatial geofence request.
type geofenceQuery struct {
	deviceID string
	udid     string
	mode     string
	async    bool
	q        geofence.Query
}

func badSpatial(w http.ResponseWriter, code, msg string) {
	writeMapsError(w, http.StatusBadRequest, code, msg)
}

// params looks query parameters up by name in any case, as the service
// does: its own tutorial sends udId.
type params url.Values

func (p params) Get(name string) string {
	if v := url.Values(p).Get(name); v != "" {
		return v
	}
	for k, v := range p {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func parseGeofenceQuery(w http.ResponseWriter, r *http.Request, needUDID bool) (geofenceQuery, bool) {
	v := params(r.URL.Query())
	gq := geofenceQuery{deviceID: v.Get("deviceId"), udid: v.Get("udid"), mode: v.Get("mode")}
	if !spatialVersions[v.Get("api-version")] {
		badSpatial(w, "400 BadRequest", "api-version must be 2022-08-01 (or 1.0).")
		return gq, false
	}
	if gq.deviceID == "" {
		badSpatial(w, "NullDeviceId", "deviceId is required.")
		return gq, false
	}
	if needUDID {
		if gq.udid == "" {
			badSpatial(w, "NullUdid", "udid is required.")
			return gq, false
		}
		if !guidPattern.MatchString(gq.udid) {
			badSpatial(w, "UdidWrongFormat", "udid must be a GUID.")
			return gq, false
		}
	}
	lat, err1 := strconv.ParseFloat(v.Get("lat"), 64)
	lon, err2 := strconv.ParseFloat(v.Get("lon"), 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		badSpatial(w, "InvalidLatLon", "lat must be -90 to 90 and lon -180 to 180.")
		return gq, false
	}
	gq.q = geofence.Query{Lat: lat, Lon: lon, SearchBuffer: 50, UserTime: time.Now()}
	if sb := v.Get("searchBuffer"); sb != "" {
		b, err := strconv.ParseFloat(sb, 64)
		if err != nil || b < 0 || b > 500 {
			badSpatial(w, "InvalidSearchBuffer", "searchBuffer must be 0 to 500 metres.")
			return gq, false
		}
		gq.q.SearchBuffer = b
	}
	if ut := v.Get("userTime"); ut != "" {
		t, err := time.Parse(time.RFC3339, ut)
		if err != nil {
			badSpatial(w, "InvalidUserTime", "userTime must be an RFC 3339 time.")
			return gq, false
		}
		gq.q.UserTime = t
	}
	if a := v.Get("isAsync"); a != "" {
		async, err := strconv.ParseBool(a)
		if err != nil {
			badSpatial(w, "400 BadRequest", "isAsync must be true or false.")
			return gq, false
		}
		gq.async = async
	}
	switch gq.mode {
	case "", "All", "EnterAndExit":
	default:
		badSpatial(w, "InvalidModeValue", "mode must be All or EnterAndExit.")
		return gq, false
	}
	return gq, true
}

func (s *Server) geofenceGet(w http.ResponseWriter, r *http.Request, _ caller) {
	gq, ok := parseGeofenceQuery(w, r, true)
	if !ok {
		return
	}
	fences, err := s.fences(gq.udid)
	if err != nil {
		badSpatial(w, "NoUserDataWithUdid", "No geofence data was uploaded with udid "+gq.udid+".")
		return
	}
	s.answerGeofence(w, gq, fences)
}

func (s *Server) geofencePost(w http.ResponseWriter, r *http.Request, _ caller) {
	gq, ok := parseGeofenceQuery(w, r, false)
	if !ok {
		return
	}
	fences, err := geofence.Parse(http.MaxBytesReader(w, r.Body, geofence.MaxUploadSize))
	var inv *geofence.InvalidError
	switch {
	case errors.As(err, &inv):
		var details []mapsDetail
		for _, p := range inv.Problems {
			details = append(details, mapsDetail{Code: "InvalidGeoJson", Message: p.String(), Target: p.Pointer})
		}
		code := "InvalidGeoJson"
		if strings.Contains(inv.Problems[0].Message, "not valid JSON") {
			code = "InvalidJson"
		}
		writeMapsError(w, http.StatusBadRequest, code, "The body is not a valid geofence FeatureCollection.", details...)
		return
	case err != nil:
		badSpatial(w, "InvalidJson", err.Error())
		return
	}
	gq.udid = ""
	s.answerGeofence(w, gq, fences)
}

// fences returns an upload's fences, parsed once.
func (s *Server) fences(udid string) ([]geofence.Fence, error) {
	m := s.maps
	m.mu.Lock()
	m.settle(time.Now())
	d, cached := m.data[udid], m.fenceCache[udid]
	completed := d != nil && d.Status == "Completed"
	m.mu.Unlock()
	if !completed {
		return nil, os.ErrNotExist
	}
	if cached != nil {
		return cached, nil
	}
	f, err := os.Open(m.contentPath(udid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fences, err := geofence.Parse(f)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.fenceCache[udid] = fences
	m.mu.Unlock()
	return fences, nil
}

// geofenceAnswer is the Spatial service's answer: the evaluation, and with
// isAsync whether an event was published.
type geofenceAnswer struct {
	geofence.Result
	IsEventPublished *bool `json:"isEventPublished,omitempty"`
}

// answerGeofence evaluates, remembers where the device stands against each
// fence, and with isAsync says whether an event would be published: in All
// mode always, in EnterAndExit mode when the device entered or left a
// fence (being inside at the first query counts as entering). As the
// documented examples show, the geometries listed do not depend on mode.
func (s *Server) answerGeofence(w http.ResponseWriter, gq geofenceQuery, fences []geofence.Fence) {
	ans := geofenceAnswer{Result: geofence.Evaluate(fences, gq.q)}
	crossed := false
	m := s.maps
	m.mu.Lock()
	for i, g := range ans.Geometries {
		key := gq.deviceID + "\x00" + gq.udid + "\x00" + g.GeometryID
		inside := geofence.Inside(g.Distance)
		// A device not seen before counts as outside.
		if was := m.fenceState[key]; inside != was {
			crossed = true
		}
		m.fenceState[key] = inside
		ans.Geometries[i].DeviceID, ans.Geometries[i].UDID = gq.deviceID, gq.udid
		// Six decimals (about 0.1 m), as the service reports them.
		ans.Geometries[i].NearestLat = math.Round(g.NearestLat*1e6) / 1e6
		ans.Geometries[i].NearestLon = math.Round(g.NearestLon*1e6) / 1e6
	}
	m.mu.Unlock()
	if gq.async {
		published := gq.mode != "EnterAndExit" || crossed
		ans.IsEventPublished = &published
	}
	writeJSON(w, http.StatusOK, ans)
}
