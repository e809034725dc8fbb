package sink

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/report"
)

// DefaultEventHubsMaxBytes keeps a publication under the 1 MB limit of the
// Standard, Premium and Dedicated tiers, with room to spare; Basic takes
// 256 KB.
const DefaultEventHubsMaxBytes = 900 << 10

// EventHubsConfig configures the Event Hubs sink.
type EventHubsConfig struct {
	// URL is the hub: https://NAMESPACE.servicebus.windows.net/HUB.
	URL       string
	Tokens    TokenSource
	Transport http.RoundTripper
	Logger    *slog.Logger
	// MaxBytes is the largest POST body (DefaultEventHubsMaxBytes).
	MaxBytes int
}

// EventHubs sends each reading as one event through the REST batch send.
// Event Hubs keeps every copy it is sent, so a batch sent again after a
// lost answer lands twice: this sink is at-least-once, and each event
// carries its readingId (in its body and as MessageId) for the consumer
// to deduplicate.
type EventHubs struct {
	conn
	target   string
	maxBytes int
}

// NewEventHubs checks the hub URL.
func NewEventHubs(cfg EventHubsConfig) (*EventHubs, error) {
	u, err := httpsURL(cfg.URL, "event hub")
	if err != nil {
		return nil, err
	}
	hub := strings.Trim(u.EscapedPath(), "/")
	if hub == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("event hub URL %q: want https://NAMESPACE.servicebus.windows.net/HUB", redact(cfg.URL))
	}
	if cfg.Tokens == nil || cfg.Transport == nil {
		return nil, fmt.Errorf("event hubs sink: a token source and a transport are needed")
	}
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultEventHubsMaxBytes
	}
	return &EventHubs{
		conn:     newConn(cfg.Transport, cfg.Tokens, EventHubsResource, cfg.Logger),
		target:   u.Scheme + "://" + u.Host + "/" + hub + "/messages?timeout=60&api-version=2014-01",
		maxBytes: maxBytes,
	}, nil
}

// Name is the sink's name for --sink.
func (e *EventHubs) Name() string { return "eventhubs" }

// event is one event of a batch send.
type event struct {
	Body             string            `json:"Body"`
	UserProperties   map[string]string `json:"UserProperties"`
	BrokerProperties struct {
		MessageID    string `json:"MessageId,omitempty"`
		PartitionKey string `json:"PartitionKey"`
	} `json:"BrokerProperties"`
}

// Send posts the batch's readings as events, in as few POSTs as the size
// limit allows, in order. A reading too large for a POST of its own is
// refused, so the pipeline can set it aside.
func (e *EventHubs) Send(ctx context.Context, batch report.Batch) error {
	posts, err := e.posts(batch)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/vnd.microsoft.servicebus.json")
	for i, body := range posts {
		a, err := e.do(ctx, http.MethodPost, e.target, h, body, func(a answer) bool { return a.status == http.StatusUnauthorized })
		if err == nil && a.status/100 != 2 {
			err = eventHubsFailure(a)
		}
		if err != nil {
			if i > 0 {
				// The earlier POSTs landed: a resend repeats them.
				e.log.DebugContext(ctx, "part of a batch was sent", "batch", batch.ID, "posts_sent", i, "posts", len(posts))
			}
			return err
		}
	}
	e.log.DebugContext(ctx, "batch sent", "batch", batch.ID, "readings", batch.Count, "posts", len(posts))
	return nil
}

// posts cuts the batch into JSON arrays of events, each at most maxBytes.
func (e *EventHubs) posts(batch report.Batch) ([][]byte, error) {
	var posts [][]byte
	var cur bytes.Buffer
	for line := range bytes.Lines(batch.Body) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var ids struct {
			ReadingID string `json:"readingId"`
			DeviceID  string `json:"deviceId"`
		}
		_ = json.Unmarshal(line, &ids)
		ev := event{Body: string(line), UserProperties: map[string]string{"batchId": batch.ID}}
		ev.BrokerProperties.MessageID = ids.ReadingID
		ev.BrokerProperties.PartitionKey = cmp.Or(ids.DeviceID, batch.DeviceID)
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
		if len(data)+2 > e.maxBytes {
			return nil, &report.RejectedError{Status: http.StatusRequestEntityTooLarge, Reason: fmt.Sprintf(
				"reading %s is %d bytes as an event, over the %d bytes one publication may have", ids.ReadingID, len(data), e.maxBytes)}
		}
		if cur.Len() > 0 && cur.Len()+1+len(data)+1 > e.maxBytes {
			cur.WriteByte(']')
			posts = append(posts, bytes.Clone(cur.Bytes()))
			cur.Reset()
		}
		if cur.Len() == 0 {
			cur.WriteByte('[')
		} else {
			cur.WriteByte(',')
		}
		cur.Write(data)
	}
	if cur.Len() > 0 {
		cur.WriteByte(']')
		posts = append(posts, cur.Bytes())
	}
	return posts, nil
}

// eventHubsFailure says what an answer means for the batch. A 400 or 413
// is about the events; a 404 (no such hub) is a setting, retried.
func eventHubsFailure(a answer) error {
	var body struct {
		Detail string `xml:"Detail"`
	}
	_ = xml.Unmarshal(a.body, &body)
	detail := shorten(body.Detail)
	switch a.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if strings.Contains(detail, "'Send' claim") {
			return forbidden("Event Hubs: the identity may not send to this hub; it needs Azure Event Hubs Data Sender on the hub or its namespace (Owner is not enough): " + detail)
		}
		return forbidden("Event Hubs: " + detail)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Event Hubs' clients wait at least 4 s when the namespace is busy.
		return busy(a, 4*time.Second, errStatus("send events", a, detail))
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return &report.RejectedError{Status: a.status, Reason: cmp.Or(detail, http.StatusText(a.status))}
	}
	return errStatus("send events", a, detail)
}
