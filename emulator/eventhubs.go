package emulator

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The Event Hubs side: one namespace at {url}/eventhubs, where every hub
// name exists, answering the REST batch send as Azure Event Hubs does.

const (
	// EndpointEventHubs is the Event Hubs send endpoint.
	EndpointEventHubs Endpoint = "eventhubs"
	// EventHubsAudience is the aud claim of access tokens for Event Hubs.
	EventHubsAudience = "https://eventhubs.azure.net"
	// RoleEventHubsSender is the data role that may send events.
	RoleEventHubsSender = "Azure Event Hubs Data Sender"
	// EventHubsMaxBytes is the largest publication a Standard namespace
	// takes (1 MB); larger ones get 413.
	EventHubsMaxBytes   = 1 << 20
	eventHubsAPIVersion = "2014-01"
	eventHubsBatchType  = "application/vnd.microsoft.servicebus.json"
)

// EventHubsMessage is one event as a hub stored it.
type EventHubsMessage struct {
	Hub            string
	Body           string
	MessageID      string
	PartitionKey   string
	UserProperties map[string]any
	Enqueued       time.Time
}

// eventHubsState is the namespace: the events sent, and the role
// assignments made by tests on top of the default.
type eventHubsState struct {
	mu       sync.Mutex
	messages []EventHubsMessage
	senders  map[string]bool // lower-case object id → holds the role
}

func (s *Server) eventHubsRoutes(mux *http.ServeMux) {
	s.hubs = &eventHubsState{senders: map[string]bool{}}
	s.handle(mux, "POST /eventhubs/{hub}/messages", EndpointEventHubs, s.sendEvents)
}

// EventHubsURL is the URL of a hub, as --eventhub-url takes it.
func (s *Server) EventHubsURL(hub string) string { return s.url + "/eventhubs/" + hub }

// EventHubsMessages are the events every hub has stored, in order.
func (s *Server) EventHubsMessages() []EventHubsMessage {
	s.hubs.mu.Lock()
	defer s.hubs.mu.Unlock()
	return append([]EventHubsMessage(nil), s.hubs.messages...)
}

// SetEventHubsSender gives or takes Azure Event Hubs Data Sender on the
// namespace from a principal, by object id.
func (s *Server) SetEventHubsSender(oid string, sender bool) {
	s.hubs.mu.Lock()
	defer s.hubs.mu.Unlock()
	s.hubs.senders[strings.ToLower(oid)] = sender
}

// isSender applies the role: by default everyone who may write to the
// Maps account may send events.
func (s *Server) isSender(oid string) bool {
	s.hubs.mu.Lock()
	sender, set := s.hubs.senders[strings.ToLower(oid)]
	s.hubs.mu.Unlock()
	if set {
		return sender
	}
	return s.maps.roles[strings.ToLower(oid)] == RoleDataContributor
}

// eventBatchEntry is one event of a batch send.
type eventBatchEntry struct {
	Body             *string        `json:"Body"`
	UserProperties   map[string]any `json:"UserProperties"`
	BrokerProperties struct {
		MessageID    string `json:"MessageId"`
		PartitionKey string `json:"PartitionKey"`
	} `json:"BrokerProperties"`
}

func (s *Server) sendEvents(w http.ResponseWriter, r *http.Request) {
	hub := r.PathValue("hub")
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		writeEventHubsError(w, http.StatusUnauthorized, "MissingToken: The authorization header was not found.")
		return
	}
	claims, problem := s.checkAccessToken(raw)
	if problem != "" {
		writeEventHubsError(w, http.StatusUnauthorized, "ExpiredToken: "+problem)
		return
	}
	if aud, _ := claims["aud"].(string); strings.TrimSuffix(aud, "/") != EventHubsAudience {
		writeEventHubsError(w, http.StatusUnauthorized, fmt.Sprintf("InvalidAudience: The provided token audience '%s' is not valid.", aud))
		return
	}
	if oid, _ := claims["oid"].(string); !s.isSender(oid) {
		writeEventHubsError(w, http.StatusUnauthorized, fmt.Sprintf(
			"Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://emulator/%s'.", hub))
		return
	}
	if v := r.URL.Query().Get("api-version"); v != eventHubsAPIVersion {
		writeEventHubsError(w, http.StatusBadRequest, fmt.Sprintf("The api-version '%s' is not supported; use %s.", v, eventHubsAPIVersion))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != eventHubsBatchType {
		writeEventHubsError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
			"The content type '%s' is not a batch; this emulator takes %s only.", r.Header.Get("Content-Type"), eventHubsBatchType))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, EventHubsMaxBytes+1))
	if err != nil {
		writeEventHubsError(w, http.StatusBadRequest, "The request body could not be read.")
		return
	}
	if len(body) > EventHubsMaxBytes {
		writeEventHubsError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"The received message exceeds the limit (%d bytes) currently allowed on the link.", EventHubsMaxBytes))
		return
	}
	var batch []eventBatchEntry
	if err := json.Unmarshal(body, &batch); err != nil || len(batch) == 0 {
		writeEventHubsError(w, http.StatusBadRequest, "The request body is not a JSON array of events.")
		return
	}
	now := time.Now()
	stored := make([]EventHubsMessage, 0, len(batch))
	for i, e := range batch {
		if e.Body == nil {
			writeEventHubsError(w, http.StatusBadRequest, fmt.Sprintf("Event %d has no Body.", i))
			return
		}
		stored = append(stored, EventHubsMessage{
			Hub: hub, Body: *e.Body, MessageID: e.BrokerProperties.MessageID,
			PartitionKey: e.BrokerProperties.PartitionKey, UserProperties: e.UserProperties, Enqueued: now,
		})
	}
	s.hubs.mu.Lock()
	s.hubs.messages = append(s.hubs.messages, stored...)
	s.hubs.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// writeEventHubsError answers in the shape the Event Hubs REST API uses.
func writeEventHubsError(w http.ResponseWriter, status int, detail string) {
	type errorBody struct {
		XMLName xml.Name `xml:"Error"`
		Code    int      `xml:"Code"`
		Detail  string   `xml:"Detail"`
	}
	detail += fmt.Sprintf(" TrackingId:%s, SystemTracker:emulator, Timestamp:%s", newGUID(), time.Now().UTC().Format("2006-01-02T15:04:05"))
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(errorBody{Code: status, Detail: detail})
}
