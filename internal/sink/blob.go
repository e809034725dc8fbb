package sink

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/report"
)

// StorageVersion is the Blob service version every request asks for: a
// stable one that Azure and Azurite 3.35 both take (bearer tokens need
// 2017-11-09 or newer).
const StorageVersion = "2025-11-05"

// BlobConfig configures the Blob Storage sink.
type BlobConfig struct {
	// URL is the container: https://ACCOUNT.blob.core.windows.net/CONTAINER,
	// or Azurite's https://HOST:PORT/ACCOUNT/CONTAINER.
	URL       string
	Tokens    TokenSource
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Blob writes each batch as one block blob, named by BlobName and created
// only if absent, so a resend finds its earlier copy and stops there.
type Blob struct {
	conn
	container string // the container's URL, without a trailing slash
}

var containerName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// NewBlob checks the container URL.
func NewBlob(cfg BlobConfig) (*Blob, error) {
	u, err := httpsURL(cfg.URL, "blob")
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		return nil, fmt.Errorf("blob URL %q: a query (such as a SAS token) is not used; tokens come from the sign-in", redact(cfg.URL))
	}
	path := strings.Trim(u.EscapedPath(), "/")
	name := path[strings.LastIndex(path, "/")+1:]
	if !containerName.MatchString(name) || len(name) < 3 || len(name) > 63 || strings.Contains(name, "--") {
		return nil, fmt.Errorf("blob URL %q: the last part of the path must be a container name (3 to 63 lower-case letters, digits and single hyphens)", redact(cfg.URL))
	}
	if cfg.Tokens == nil || cfg.Transport == nil {
		return nil, fmt.Errorf("blob sink: a token source and a transport are needed")
	}
	return &Blob{
		conn:      newConn(cfg.Transport, cfg.Tokens, StorageResource, cfg.Logger),
		container: u.Scheme + "://" + u.Host + "/" + path,
	}, nil
}

// Name is the sink's name for --sink.
func (b *Blob) Name() string { return "blob" }

// BlobName is where a batch is stored:
// {deviceId}/{yyyy}/{MM}/{dd}/{HH}/{batchId}.json, the time being the
// batch's first reading's in UTC, so a resend names the same blob. Slashes
// in a device id become underscores, so it stays one level.
func BlobName(b report.Batch) string {
	device := strings.NewReplacer("/", "_", `\`, "_").Replace(b.DeviceID)
	return device + "/" + b.First.UTC().Format("2006/01/02/15") + "/" + b.ID + ".json"
}

// Send puts the batch with If-None-Match: *. A 409 BlobAlreadyExists is
// checked by its Content-MD5 and batch id: the same is delivered; another
// batch's blob is never overwritten, and the batch is refused.
func (b *Blob) Send(ctx context.Context, batch report.Batch) error {
	name := BlobName(batch)
	target := b.container + "/" + escapeSegments(name)
	sum := md5.Sum(batch.Body)
	digest := base64.StdEncoding.EncodeToString(sum[:])
	h := b.header()
	h.Set("x-ms-blob-type", "BlockBlob")
	h.Set("If-None-Match", "*")
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-MD5", digest)
	// Metadata names keep their case, as Azure Data Explorer reads them.
	h["x-ms-meta-batchid"] = []string{batch.ID}
	h["x-ms-meta-readings"] = []string{strconv.Itoa(batch.Count)}
	h["x-ms-meta-rawSizeBytes"] = []string{strconv.Itoa(len(batch.Body))}
	h["x-ms-meta-kustoCreationTime"] = []string{batch.First.UTC().Format(time.RFC3339Nano)}
	created := false
	for {
		a, err := b.do(ctx, http.MethodPut, target, h, batch.Body, storageTokenRefused)
		if err != nil {
			return err
		}
		code, _ := storageError(a)
		switch {
		case a.status == http.StatusCreated:
			b.log.DebugContext(ctx, "batch stored", "blob", name, "readings", batch.Count)
			return nil
		case a.status == http.StatusConflict && code == "BlobAlreadyExists",
			a.status == http.StatusPreconditionFailed && code == "ConditionNotMet":
			return b.checkStored(ctx, target, name, batch.ID, digest)
		case a.status == http.StatusNotFound && code == "ContainerNotFound" && !created:
			if err := b.createContainer(ctx); err != nil {
				return err
			}
			created = true
			continue
		}
		return storageFailure("store blob "+name, a)
	}
}

// checkStored reads back a blob that already exists: it is this batch's
// when its MD5 and batch id match.
func (b *Blob) checkStored(ctx context.Context, target, name, batchID, digest string) error {
	a, err := b.do(ctx, http.MethodHead, target, b.header(), nil, storageTokenRefused)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return storageFailure("read back blob "+name, a)
	}
	gotID, gotMD5 := a.header.Get("x-ms-meta-batchid"), a.header.Get("Content-MD5")
	if gotID == batchID && gotMD5 == digest {
		b.log.DebugContext(ctx, "batch was already stored", "blob", name)
		return nil
	}
	b.log.WarnContext(ctx, "another batch's blob has this name; not overwritten", "blob", name, "batch", batchID, "stored_batch", gotID)
	return &report.RejectedError{Status: http.StatusConflict, Reason: fmt.Sprintf(
		"blob %s already holds other data (batch %q, Content-MD5 %s) and is not overwritten", name, gotID, gotMD5)}
}

// createContainer makes the container when the first Put finds none.
func (b *Blob) createContainer(ctx context.Context) error {
	a, err := b.do(ctx, http.MethodPut, b.container+"?restype=container", b.header(), []byte{}, storageTokenRefused)
	if err != nil {
		return err
	}
	if code, _ := storageError(a); a.status == http.StatusCreated || code == "ContainerAlreadyExists" {
		b.log.InfoContext(ctx, "created the container", "url", b.container)
		return nil
	}
	return storageFailure("create container", a)
}

// StoredBlob is one blob of the container.
type StoredBlob struct {
	Name string
	Size int64
}

// List lists the container's blobs whose names start with prefix, for
// people checking what arrived (the demo). An absent container has none.
func (b *Blob) List(ctx context.Context, prefix string) ([]StoredBlob, error) {
	var out []StoredBlob
	marker := ""
	for {
		q := url.Values{"restype": {"container"}, "comp": {"list"}, "prefix": {prefix}}
		if marker != "" {
			q.Set("marker", marker)
		}
		a, err := b.do(ctx, http.MethodGet, b.container+"?"+q.Encode(), b.header(), nil, storageTokenRefused)
		if err != nil {
			return nil, err
		}
		if code, _ := storageError(a); a.status == http.StatusNotFound && code == "ContainerNotFound" {
			return out, nil
		}
		if a.status != http.StatusOK {
			return nil, storageFailure("list blobs", a)
		}
		var page struct {
			Blobs []struct {
				Name string `xml:"Name"`
				Size int64  `xml:"Properties>Content-Length"`
			} `xml:"Blobs>Blob"`
			NextMarker string `xml:"NextMarker"`
		}
		if err := xml.Unmarshal(a.body, &page); err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		for _, bl := range page.Blobs {
			out = append(out, StoredBlob{Name: bl.Name, Size: bl.Size})
		}
		if page.NextMarker == "" {
			return out, nil
		}
		marker = page.NextMarker
	}
}

func (b *Blob) header() http.Header {
	h := http.Header{}
	h.Set("x-ms-version", StorageVersion)
	h.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	return h
}

// storageTokenRefused: a token missing, expired or for another audience.
func storageTokenRefused(a answer) bool {
	code, _ := storageError(a)
	return a.status == http.StatusUnauthorized || (a.status == http.StatusForbidden && code == "AuthenticationFailed")
}

// storageFailure says what an answer means for the batch. Storage does
// not read the readings, so no answer is about them but 413: a 400 or 404
// is a setting or a service problem, retried, never a reason to
// dead-letter readings.
func storageFailure(what string, a answer) error {
	code, msg := storageError(a)
	detail := strings.TrimPrefix(code+": "+msg, ": ")
	switch {
	case a.status == http.StatusForbidden && code == "AuthorizationPermissionMismatch":
		return forbidden("AuthorizationPermissionMismatch: the identity has no data role on the storage account; Owner is not enough, it needs Storage Blob Data Contributor (role assignments take a few minutes to apply)")
	case a.status == http.StatusForbidden && code == "AuthorizationFailure":
		return forbidden("AuthorizationFailure: the storage account refused the request, typically because of its firewall or network rules")
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		return forbidden("Blob Storage: " + detail)
	case a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable:
		return busy(a, time.Second, errStatus(what, a, detail))
	case a.status == http.StatusRequestEntityTooLarge:
		return &report.RejectedError{Status: a.status, Reason: detail}
	}
	return errStatus(what, a, detail)
}

// storageError reads Storage's error code (the x-ms-error-code header
// first: it is the only place a HEAD has it) and message.
func storageError(a answer) (code, message string) {
	var body struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		Detail  string `xml:"AuthenticationErrorDetail"`
	}
	_ = xml.Unmarshal(a.body, &body)
	code = a.header.Get("x-ms-error-code")
	if code == "" {
		code = body.Code
	}
	// The message's later lines are RequestId and Time.
	message, _, _ = strings.Cut(body.Message, "\n")
	if body.Detail != "" {
		message = strings.TrimSpace(message + " " + body.Detail)
	}
	return code, shorten(message)
}

// escapeSegments escapes a blob name for a URL path, keeping its slashes.
func escapeSegments(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
