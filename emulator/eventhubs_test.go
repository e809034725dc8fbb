package emulator_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// hubPost sends a batch to the emulator's hub "readings".
func hubPost(t *testing.T, srv *emulator.Server, query, contentType, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.EventHubsURL("readings")+"/messages"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusCreated {
		return resp.StatusCode, string(raw)
	}
	var e struct {
		Code   int    `xml:"Code"`
		Detail string `xml:"Detail"`
	}
	if err := xml.Unmarshal(raw, &e); err != nil || e.Code != resp.StatusCode {
		t.Fatalf("%d %q is not Event Hubs' XML error", resp.StatusCode, raw)
	}
	return resp.StatusCode, e.Detail
}

func TestEventHubsSend(t *testing.T) {
	srv := start(t, emulator.Options{})
	sender := userToken(t, srv, emulator.ContributorUser, "https://eventhubs.azure.net/user_impersonation")
	reader := userToken(t, srv, emulator.ReaderUser, "https://eventhubs.azure.net/user_impersonation")
	maps := userToken(t, srv, emulator.ContributorUser, emulator.MapsScope)
	const batchType = "application/vnd.microsoft.servicebus.json"
	const query = "?timeout=60&api-version=2014-01"
	good := `[{"Body":"{\"readingId\":\"pi-01:e:1\"}","UserProperties":{"batchId":"e-1"},"BrokerProperties":{"MessageId":"pi-01:e:1","PartitionKey":"pi-01"}},` +
		`{"Body":"{\"readingId\":\"pi-01:e:2\"}","BrokerProperties":{"MessageId":"pi-01:e:2","PartitionKey":"pi-01"}}]`
	tests := []struct {
		name, query, contentType, token, body string
		status                                int
		detail                                string
	}{
		{"no token", query, batchType, "", good, 401, "MissingToken"},
		{"a token for Maps", query, batchType, maps, good, 401, "InvalidAudience"},
		{"no Data Sender role", query, batchType, reader, good, 401, "'Send' claim(s) are required"},
		{"no api-version", "", batchType, sender, good, 400, "api-version"},
		{"not a batch", query, "application/atom+xml;type=entry;charset=utf-8", sender, good, 415, "content type"},
		{"not an array", query, batchType, sender, `{"Body":"x"}`, 400, "JSON array"},
		{"an event without a body", query, batchType, sender, `[{"BrokerProperties":{}}]`, 400, "no Body"},
		{"over 1 MB", query, batchType, sender, `[{"Body":"` + strings.Repeat("x", emulator.EventHubsMaxBytes) + `"}]`, 413, "exceeds the limit"},
		{"a batch", query, batchType, sender, good, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, detail := hubPost(t, srv, tt.query, tt.contentType, tt.token, tt.body)
			if status != tt.status || !strings.Contains(detail, tt.detail) {
				t.Errorf("got %d %q, want %d with %q", status, detail, tt.status, tt.detail)
			}
		})
	}
	got := srv.EventHubsMessages()
	if len(got) != 2 {
		t.Fatalf("%d events stored, want the good batch's 2: %+v", len(got), got)
	}
	if m := got[0]; m.Hub != "readings" || m.Body != `{"readingId":"pi-01:e:1"}` || m.MessageID != "pi-01:e:1" ||
		m.PartitionKey != "pi-01" || m.UserProperties["batchId"] != "e-1" {
		t.Errorf("stored %+v", m)
	}

	t.Run("the role can be given", func(t *testing.T) {
		srv.SetEventHubsSender(emulator.User{Username: emulator.ReaderUser}.ObjectID(), true)
		if status, detail := hubPost(t, srv, query, batchType, reader, good); status != 201 {
			t.Errorf("got %d %q, want 201", status, detail)
		}
	})
}

// TestEventHubsFaultsAreXML: an injected fault answers as Service Bus
// does, in XML, so a client's error handling meets the real shape.
func TestEventHubsFaultsAreXML(t *testing.T) {
	srv := start(t, emulator.Options{})
	sender := userToken(t, srv, emulator.ContributorUser, "https://eventhubs.azure.net/user_impersonation")
	srv.InjectFault(emulator.EndpointEventHubs, emulator.Fault{Status: http.StatusServiceUnavailable, Error: "ServerBusy"})
	status, detail := hubPost(t, srv, "?timeout=60&api-version=2014-01", "application/vnd.microsoft.servicebus.json", sender, `[{"Body":"x"}]`)
	if status != http.StatusServiceUnavailable || !strings.Contains(detail, "ServerBusy") {
		t.Errorf("got %d %q, want 503 with ServerBusy in Event Hubs' XML", status, detail)
	}
	if got := srv.EventHubsMessages(); len(got) != 0 {
		t.Errorf("%d events stored through a fault", len(got))
	}
}
