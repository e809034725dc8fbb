package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/atomicfile"
	"github.com/mapsdevice/mapsdevice/internal/geofence"
)

// dataset is one upload of the Data v2 service.
type dataset struct {
	UDID        string    `json:"udid"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Size        int64     `json:"sizeInBytes"`
	Status      string    `json:"uploadStatus"` // Pending, Completed
}

// operation is a long-running upload or update.
type operation struct {
	id      string
	created time.Time
	ready   time.Time
	udid    string
	tmp     string // content waiting to replace the dataset's
	size    int64
	desc    string
	problem *mapsDetail
	details []mapsDetail
	done    bool
}

const dataVersion = "2.0"

func (m *mapsState) contentPath(udid string) string { return filepath.Join(m.dir, udid+".geojson") }

func (m *mapsState) loadDatasets() error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return fmt.Errorf("create map data folder: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(m.dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read map data index: %w", err)
	}
	var list []*dataset
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("map data index: %w", err)
	}
	for _, d := range list {
		m.data[d.UDID] = d
		m.used += d.Size
	}
	return nil
}

// saveDatasets writes the index; the caller holds m.mu.
func (m *mapsState) saveDatasets() error {
	list := make([]*dataset, 0, len(m.data))
	for _, d := range m.data {
		if d.Status == "Completed" {
			list = append(list, d)
		}
	}
	slices.SortFunc(list, func(a, b *dataset) int { return a.Created.Compare(b.Created) })
	data, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return fmt.Errorf("encode map data index: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(m.dir, "index.json"), data, 0o600); err != nil {
		return fmt.Errorf("write map data index: %w", err)
	}
	return nil
}

func checkDataVersion(w http.ResponseWriter, r *http.Request) bool {
	if v := r.URL.Query().Get("api-version"); v != dataVersion {
		writeMapsError(w, http.StatusBadRequest, "400 BadRequest", fmt.Sprintf("The api-version %q is not supported by the Data service: use 2.0.", v))
		return false
	}
	return true
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, _ caller) {
	if !checkDataVersion(w, r) {
		return
	}
	if f := r.URL.Query().Get("dataFormat"); !strings.EqualFold(f, "geojson") {
		writeMapsError(w, http.StatusBadRequest, "400 BadRequest", fmt.Sprintf("dataFormat %q is not supported: use geojson.", f))
		return
	}
	s.receive(w, r, "")
}

func (s *Server) updateData(w http.ResponseWriter, r *http.Request, _ caller) {
	if !checkDataVersion(w, r) {
		return
	}
	udid := r.PathValue("udid")
	s.maps.mu.Lock()
	d := s.maps.data[udid]
	completed := d != nil && d.Status == "Completed"
	s.maps.mu.Unlock()
	if !completed {
		writeMapsError(w, http.StatusBadRequest, "400 BadRequest", "No map data with udid "+udid+".")
		return
	}
	s.receive(w, r, udid)
}

// receive streams a body to disk, validates it and starts an operation.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, udid string) {
	m := s.maps
	m.mu.Lock()
	m.settle(time.Now())
	full := m.committed() >= s.opts.MapsStorageQuota
	m.mu.Unlock()
	if full {
		writeMapsError(w, http.StatusConflict, "409 Conflict", "The storage limit of the Maps account has been reached. Delete map data to make room.")
		return
	}
	tmp, err := os.CreateTemp(m.dir, "upload-*")
	if err != nil {
		writeMapsError(w, http.StatusInternalServerError, "500 InternalServerError", "The emulator could not store the upload.")
		return
	}
	size, err := io.Copy(tmp, http.MaxBytesReader(w, r.Body, geofence.MaxUploadSize))
	tmp.Close()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		os.Remove(tmp.Name())
		writeMapsError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The upload is larger than the 100 MB the service accepts.")
		return
	case err != nil:
		os.Remove(tmp.Name())
		writeMapsError(w, http.StatusBadRequest, "400 BadRequest", "The upload could not be read.")
		return
	}
	op := &operation{id: newGUID(), created: time.Now(), udid: udid, tmp: tmp.Name(), size: size, desc: r.URL.Query().Get("description")}
	op.ready = op.created.Add(s.opts.MapsOperationTime)
	if udid == "" {
		op.udid = newGUID()
	}
	if err := validateUpload(op); err != nil {
		os.Remove(tmp.Name())
		writeMapsError(w, http.StatusInternalServerError, "500 InternalServerError", "The emulator could not read the upload back.")
		return
	}
	m.mu.Lock()
	if m.committed()+size > s.opts.MapsStorageQuota {
		m.mu.Unlock()
		os.Remove(tmp.Name())
		writeMapsError(w, http.StatusConflict, "409 Conflict", "The upload would pass the storage limit of the Maps account. Delete map data to make room.")
		return
	}
	m.ops[op.id] = op
	if udid == "" {
		// Listed as Pending until the operation ends, as the service does.
		m.data[op.udid] = &dataset{UDID: op.udid, Created: op.created, Updated: op.created, Status: "Pending", Description: op.desc}
	}
	m.mu.Unlock()
	w.Header().Set("Operation-Location", fmt.Sprintf("%s/mapData/operations/%s?api-version=%s", s.url, op.id, dataVersion))
	w.WriteHeader(http.StatusAccepted)
}

func validateUpload(op *operation) error {
	f, err := os.Open(op.tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = geofence.Parse(f)
	var inv *geofence.InvalidError
	switch {
	case errors.As(err, &inv):
		op.problem = &mapsDetail{Code: "InvalidGeoJson", Message: fmt.Sprintf("The GeoJSON is not a valid geofence: %d problem(s).", len(inv.Problems))}
		for _, p := range inv.Problems {
			op.details = append(op.details, mapsDetail{Code: "InvalidGeoJson", Message: p.String(), Target: p.Pointer})
		}
	case err != nil:
		op.problem = &mapsDetail{Code: "InvalidGeoJson", Message: err.Error()}
	}
	return nil
}

// committed is the storage used plus what pending uploads will use; the
// caller holds m.mu.
func (m *mapsState) committed() int64 {
	n := m.used
	for _, op := range m.ops {
		if !op.done && op.problem == nil {
			n += op.size
		}
	}
	return n
}

// settle finishes operations whose time has come; the caller holds m.mu.
// Operations end lazily, when someone looks, so no timer outlives Close.
func (m *mapsState) settle(now time.Time) {
	changed := false
	for _, op := range m.ops {
		if op.done || now.Before(op.ready) {
			continue
		}
		op.done = true
		d := m.data[op.udid]
		if op.problem == nil {
			if err := os.Rename(op.tmp, m.contentPath(op.udid)); err != nil {
				op.problem = &mapsDetail{Code: "InternalServerError", Message: "The emulator could not keep the upload."}
			}
		}
		if op.problem != nil {
			os.Remove(op.tmp)
			if d != nil && d.Status == "Pending" {
				d.Status = "Failed"
			}
			continue
		}
		if d == nil {
			d = &dataset{UDID: op.udid, Created: op.created}
			m.data[op.udid] = d
		} else if d.Status == "Completed" {
			m.used -= d.Size
		}
		d.Updated, d.Size, d.Status = now, op.size, "Completed"
		if op.desc != "" {
			d.Description = op.desc
		}
		m.used += d.Size
		delete(m.fenceCache, op.udid)
		changed = true
	}
	if changed {
		_ = m.saveDatasets() // the content is on disk; the index is rewritten on the next change
	}
}

func (s *Server) operationStatus(w http.ResponseWriter, r *http.Request, _ caller) {
	if !checkDataVersion(w, r) {
		return
	}
	now := time.Now()
	s.maps.mu.Lock()
	s.maps.settle(now)
	op := s.maps.ops[r.PathValue("id")]
	var body map[string]any
	if op != nil {
		body = map[string]any{"operationId": op.id, "created": op.created.UTC().Format(time.RFC3339)}
		switch {
		case !op.done && now.Before(op.created.Add(s.opts.MapsOperationTime/2)):
			body["status"] = "NotStarted"
		case !op.done:
			body["status"] = "Running"
		case op.problem != nil:
			e := map[string]any{"code": op.problem.Code, "message": op.problem.Message}
			if len(op.details) > 0 {
				e["details"] = op.details
			}
			body["status"], body["error"] = "Failed", e
		default:
			body["status"] = "Succeeded"
			resource := fmt.Sprintf("%s/mapData/metadata/%s?api-version=%s", s.url, op.udid, dataVersion)
			if s.opts.PlainResourceLocation {
				resource = fmt.Sprintf("%s/mapData/%s?api-version=%s", s.url, op.udid, dataVersion)
			}
			w.Header().Set("Resource-Location", resource)
		}
		if !op.done {
			// Whole seconds, as the service sends; 0 when under a second.
			w.Header().Set("Retry-After", fmt.Sprint(int(time.Until(op.ready).Seconds())))
		}
	}
	s.maps.mu.Unlock()
	if op == nil {
		writeMapsError(w, http.StatusNotFound, "NotFound", "No operation "+r.PathValue("id")+".")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) dataset(w http.ResponseWriter, r *http.Request) *dataset {
	if !checkDataVersion(w, r) {
		return nil
	}
	s.maps.mu.Lock()
	s.maps.settle(time.Now())
	d := s.maps.data[r.PathValue("udid")]
	var copy dataset
	if d != nil {
		copy = *d
	}
	s.maps.mu.Unlock()
	if d == nil {
		writeMapsError(w, http.StatusBadRequest, "400 BadRequest", "No map data with udid "+r.PathValue("udid")+".")
		return nil
	}
	return &copy
}

func (s *Server) metadataOf(d dataset) map[string]any {
	return map[string]any{
		"udid":         d.UDID,
		"location":     fmt.Sprintf("%s/mapData/%s?api-version=%s", s.url, d.UDID, dataVersion),
		"created":      d.Created.UTC().Format(time.RFC3339),
		"updated":      d.Updated.UTC().Format(time.RFC3339),
		"sizeInBytes":  d.Size,
		"uploadStatus": d.Status,
		"dataFormat":   "geojson",
		"description":  d.Description,
	}
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request, _ caller) {
	if d := s.dataset(w, r); d != nil {
		writeJSON(w, http.StatusOK, s.metadataOf(*d))
	}
}

func (s *Server) listData(w http.ResponseWriter, r *http.Request, _ caller) {
	if !checkDataVersion(w, r) {
		return
	}
	s.maps.mu.Lock()
	s.maps.settle(time.Now())
	list := []map[string]any{}
	for _, d := range s.maps.data {
		list = append(list, s.metadataOf(*d))
	}
	s.maps.mu.Unlock()
	slices.SortFunc(list, func(a, b map[string]any) int { return strings.Compare(a["created"].(string), b["created"].(string)) })
	writeJSON(w, http.StatusOK, map[string]any{"mapDataList": list})
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, _ caller) {
	d := s.dataset(w, r)
	if d == nil {
		return
	}
	if d.Status != "Completed" {
		writeMapsError(w, http.StatusBadRequest, "400 BadRequest", "The map data "+d.UDID+" is "+d.Status+", not Completed.")
		return
	}
	f, err := os.Open(s.maps.contentPath(d.UDID))
	if err != nil {
		writeMapsError(w, http.StatusInternalServerError, "500 InternalServerError", "The emulator lost this map data.")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(d.Size))
	_, _ = io.Copy(w, f)
}

func (s *Server) deleteData(w http.ResponseWriter, r *http.Request, _ caller) {
	d := s.dataset(w, r)
	if d == nil {
		return
	}
	m := s.maps
	m.mu.Lock()
	delete(m.data, d.UDID)
	delete(m.fenceCache, d.UDID)
	if d.Status == "Completed" {
		m.used -= d.Size
	}
	_ = m.saveDatasets()
	m.mu.Unlock()
	os.Remove(m.contentPath(d.UDID))
	w.WriteHeader(http.StatusNoContent)
}
