package emulator

import (
	"errors"
	"net/http"
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
	q        geofence.Query
}

func badSpatial(w http.ResponseWriter, code, msg string) {
	writeMapsError(w, http.StatusBadRequest, code, msg)
}

func parseGeofenceQuery(w http.ResponseWriter, r *http.Request, needUDID bool) (geofenceQuery, bool) {
	v := r.URL.Query()
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
	s.mu.Lock()
	s.settle(time.Now())
	d, cached := s.data[udid], s.fenceCache[udid]
	s.mu.Unlock()
	if d == nil || d.Status != "Completed" {
		return nil, os.ErrNotExist
	}
	if cached != nil {
		return cached, nil
	}
	f, err := os.Open(s.contentPath(udid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fences, err := geofence.Parse(f)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.fenceCache[udid] = fences
	s.mu.Unlock()
	return fences, nil
}

// answerGeofence evaluates and, in EnterAndExit mode, keeps only the
// geometries whose inside or outside changed for this device.
func (s *Server) answerGeofence(w http.ResponseWriter, gq geofenceQuery, fences []geofence.Fence) {
	res := geofence.Evaluate(fences, gq.q)
	geometries := []geofence.GeometryResult{}
	s.mu.Lock()
	for _, g := range res.Geometries {
		key := gq.deviceID + "\x00" + gq.udid + "\x00" + g.GeometryID
		inside := geofence.Inside(g.Distance)
		was, seen := s.fenceState[key]
		s.fenceState[key] = inside
		if gq.mode == "EnterAndExit" && (inside == was) && (seen || !inside) {
			continue
		}
		g.DeviceID, g.UDID = gq.deviceID, gq.udid
		geometries = append(geometries, g)
	}
	s.mu.Unlock()
	res.Geometries = geometries
	writeJSON(w, http.StatusOK, res)
}
