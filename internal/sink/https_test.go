package sink_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/internal/auth"
	"github.com/mapsdevice/mapsdevice/internal/report"
	"github.com/mapsdevice/mapsdevice/internal/sink"
)

// The emulator knows no api:// apps, so the test API takes tokens for
// Storage: what matters is that it checks them.
const apiAudience = sink.StorageResource

// idempotentAPI is a user's API as the Idempotency-Key draft has it: a
// key is remembered with its payload's fingerprint; a key seen again with
// the same payload gets the stored answer, with another payload 422, and
// while its first request is still being processed 409.
type idempotentAPI struct {
	emu *emulator.Server

	mu       sync.Mutex
	keys     map[string]*keyEntry
	readings map[string]int // by readingId: what the API stored
	replays  int
	hold     map[string]*heldKey // keys whose processing waits
}

// heldKey holds a key's first request: reached is closed when the request
// has arrived and is being processed, release lets it finish.
type heldKey struct {
	reached, release chan struct{}
}

type keyEntry struct {
	fingerprint [32]byte
	done        bool
}

func startAPI(t *testing.T, emu *emulator.Server) (*idempotentAPI, *httptest.Server) {
	api := &idempotentAPI{emu: emu, keys: map[string]*keyEntry{}, readings: map[string]int{}, hold: map[string]*heldKey{}}
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	return api, srv
}

func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "detail": detail, "status": status})
}

func (a *idempotentAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := a.emu.VerifyAccessToken(raw)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if aud, _ := claims["aud"].(string); aud != apiAudience {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="wrong audience"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method != http.MethodPost || mt != "application/x-ndjson" {
		problem(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", "POST application/x-ndjson")
		return
	}
	key, err := strconv.Unquote(r.Header.Get("Idempotency-Key"))
	if err != nil || key == "" {
		problem(w, http.StatusBadRequest, "Idempotency-Key is missing", "this operation needs an Idempotency-Key that is a string")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	sum := sha256.Sum256(body)
	if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; r.Header.Get("Content-Digest") != want {
		problem(w, http.StatusBadRequest, "Bad digest", "Content-Digest does not match the content")
		return
	}

	a.mu.Lock()
	e, seen := a.keys[key]
	switch {
	case seen && e.fingerprint != sum:
		a.mu.Unlock()
		problem(w, http.StatusUnprocessableEntity, "Idempotency-Key is already used", "the key was used with another payload")
		return
	case seen && !e.done:
		a.mu.Unlock()
		problem(w, http.StatusConflict, "A request is outstanding for this Idempotency-Key", "try again later")
		return
	case seen:
		a.replays++
		a.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		return
	}
	e = &keyEntry{fingerprint: sum}
	a.keys[key] = e
	hold := a.hold[key]
	a.mu.Unlock()

	if hold != nil {
		close(hold.reached)
		<-hold.release
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for line := range strings.Lines(string(body)) {
		var rd reading
		if json.Unmarshal([]byte(line), &rd) == nil {
			a.readings[rd.ReadingID]++
		}
	}
	e.done = true
	w.WriteHeader(http.StatusCreated)
}

func newHTTPSSink(t *testing.T, url, caFile string, tokens sink.TokenSource) *sink.HTTPS {
	t.Helper()
	s, err := sink.NewHTTPS(sink.HTTPSConfig{URL: url, Scope: apiAudience, Tokens: tokens, Transport: transport(t, caFile)})
	if err != nil {
		t.Fatalf("NewHTTPS: %v", err)
	}
	return s
}

// apiSetup is the API behind a fault proxy.
func apiSetup(t *testing.T, seed uint64) (*idempotentAPI, *faultProxy, *auth.Client) {
	emu, user := signIn(t)
	api, srv := startAPI(t, emu)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return api, startFaultProxy(t, srv.URL, pool, seed), user
}

func TestHTTPSExactlyOnceThroughFaults(t *testing.T) {
	api, proxy, user := apiSetup(t, 12)
	batches, ids := makeBatches("9a9a9a9a", 1000, 25)
	proxy.setFaults(0.3,
		cannedFault{Name: "503", Status: 503, Header: map[string]string{"Retry-After": "1"}},
		cannedFault{Name: "500", Status: 500},
		cannedFault{Name: "403", Status: 403, Header: map[string]string{"Content-Type": "application/problem+json"}, Body: `{"title":"Forbidden","detail":"the token has no Readings.Write scope"}`},
	)
	o := deliver(t, func() report.Sink { return newHTTPSSink(t, proxy.URL+"/readings", proxy.CAFile, user) }, batches)
	injected, _ := proxy.counts()
	for _, f := range []string{"503", "500", "403", "drop"} {
		if injected[f] == 0 {
			t.Errorf("no %s was injected: the test proved nothing about it", f)
		}
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	t.Logf("sends %d, busy %d, forbidden %d, other %d; injected %v; the API replayed %d answers", o.sends, o.busy, o.forbidden, o.other, injected, api.replays)
	checkExactlyOnce(t, api.readings, ids)
	if api.replays == 0 {
		t.Errorf("the API replayed no answer: no resend met a batch it had stored")
	}
}

// A resend while the first request is still being processed gets 409,
// which is "try again", not "delivered"; once done, the resend gets the
// stored answer.
func TestHTTPSKeyStillInFlight(t *testing.T) {
	emu, user := signIn(t)
	api, srv := startAPI(t, emu)
	caFile := writePEM(t, srv)
	batches, ids := makeBatches("7e7e7e7e", 3, 3)
	b := batches[0]
	held := &heldKey{reached: make(chan struct{}), release: make(chan struct{})}
	release := held.release
	api.mu.Lock()
	api.hold[b.ID] = held
	api.mu.Unlock()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	// The first send gives up only once the API has its request: a timer
	// could end it before a loaded machine got the request out at all.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := make(chan error, 1)
	s := newHTTPSSink(t, srv.URL, caFile, user)
	go func() { first <- s.Send(ctx, b) }()
	select {
	case <-held.reached:
	case err := <-first:
		t.Fatalf("the first send ended before the API had it: %v", err)
	}
	cancel()
	if err := <-first; err == nil {
		t.Fatal("a send whose answer never came succeeded")
	}
	err := newHTTPSSink(t, srv.URL, caFile, user).Send(t.Context(), b)
	var retry *report.RetryAfterError
	if !errors.As(err, &retry) || retry.After != time.Second {
		t.Fatalf("resend while in flight = %v, want a RetryAfterError of 1s", err)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := newHTTPSSink(t, srv.URL, caFile, user).Send(t.Context(), b)
		if err == nil {
			break
		}
		if !errors.As(err, &retry) || time.Now().After(deadline) {
			t.Fatalf("resend after processing = %v, want delivered", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	checkExactlyOnce(t, api.readings, ids)
}

// What each answer means to the pipeline.
func TestHTTPSAnswers(t *testing.T) {
	_, proxy, user := apiSetup(t, 1)
	batches, _ := makeBatches("3c3c3c3c", 2, 2)
	when := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		answers  []cannedFault
		rejected int // the status of a RejectedError, if one
		after    time.Duration
		forbid   bool
		contains string
	}{
		{name: "key reused with other content", answers: []cannedFault{{Status: 422, Body: `{"title":"Idempotency-Key is already used","detail":"the key was used with another payload"}`}},
			rejected: 422, contains: "another payload"},
		{name: "a reading the API refuses", answers: []cannedFault{{Status: 400, Body: `{"title":"Bad reading","detail":"line 2: lat out of range"}`}},
			rejected: 400, contains: "lat out of range"},
		{name: "too large", answers: []cannedFault{{Status: 413}}, rejected: 413},
		{name: "a wrong URL is not the readings' fault", answers: []cannedFault{{Status: 404, Body: "no such route"}}, contains: "404"},
		{name: "throttled until a date", answers: []cannedFault{{Status: 429, Header: map[string]string{"Retry-After": when}}}, after: 89 * time.Second},
		{name: "a token refused twice", answers: []cannedFault{{Status: 401}, {Status: 401, Header: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}}},
			forbid: true, contains: "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.answers {
				tt.answers[i].Name = tt.name
			}
			proxy.failNext(tt.answers...)
			err := newHTTPSSink(t, proxy.URL, proxy.CAFile, user).Send(t.Context(), batches[0])
			var rejected *report.RejectedError
			var retry *report.RetryAfterError
			switch {
			case err == nil:
				t.Fatal("Send succeeded")
			case tt.rejected != 0:
				if !errors.As(err, &rejected) || rejected.Status != tt.rejected {
					t.Errorf("Send = %v, want a %d refusal", err, tt.rejected)
				}
			case tt.after != 0:
				if !errors.As(err, &retry) || retry.After < tt.after-2*time.Second || retry.After > tt.after+2*time.Second {
					t.Errorf("Send = %v, want a RetryAfterError of about %v", err, tt.after)
				}
			case tt.forbid:
				if !errors.Is(err, report.ErrForbidden) {
					t.Errorf("Send = %v, want ErrForbidden", err)
				}
			default:
				if errors.As(err, &rejected) || errors.As(err, &retry) || errors.Is(err, report.ErrForbidden) {
					t.Errorf("Send = %v, want an error to retry with backoff", err)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Send = %v, want it to say %q", err, tt.contains)
			}
		})
	}
}

// A sink whose token source fails returns that error, so the pipeline
// can tell a sign-in is needed.
func TestSinksPassOnTokenErrors(t *testing.T) {
	emu, user := signIn(t)
	emu.RevokeRefreshTokens(emulator.ContributorUser)
	batches, _ := makeBatches("2f2f2f2f", 2, 2)
	hub, err := sink.NewEventHubs(sink.EventHubsConfig{URL: emu.EventHubsURL("readings"), Tokens: user, Transport: transport(t, emu.CAFile())})
	if err != nil {
		t.Fatal(err)
	}
	err = hub.Send(t.Context(), batches[0])
	var authErr *auth.Error
	if !errors.As(err, &authErr) || authErr.Kind != auth.KindSignInNeeded {
		t.Fatalf("Send with a revoked sign-in = %v, want the auth error of kind sign-in-needed", err)
	}
}

func TestNewHTTPSNeedsHTTPS(t *testing.T) {
	for _, u := range []string{"http://api.example/readings", "https://user:pw@api.example/readings", ""} {
		if _, err := sink.NewHTTPS(sink.HTTPSConfig{URL: u, Scope: "api://x/.default", Tokens: noTokens{}, Transport: http.DefaultTransport}); err == nil {
			t.Errorf("NewHTTPS(%q) took it", u)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
