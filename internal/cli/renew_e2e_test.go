package cli_test

import (
	"encoding/json"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// TestRenewRedeemsAndStatusCounts: renew redeems the refresh token though
// a cached access token is valid, prints no token, and status shows the
// days left; once the organisation blocks the refresh, renew exits 3.
func TestRenewRedeemsAndStatusCounts(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{})
	e := signedIn(t, srv, vars, emulator.ContributorUser)

	tokenCalls := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Endpoint == emulator.EndpointToken {
				n++
			}
		}
		return n
	}
	before := tokenCalls()
	out, stderr, code := e.run("renew", "--json")
	var ev map[string]any
	json.Unmarshal([]byte(out), &ev)
	if code != 0 || ev["event"] != "renewed" || ev["days_left"] != float64(90) || ev["username"] != emulator.ContributorUser {
		t.Fatalf("renew exit %d: %s\n%s", code, out, stderr)
	}
	if tokenCalls() != before+1 {
		t.Errorf("renew made %d token requests, want 1", tokenCalls()-before)
	}
	if strings.Contains(out, "eyJ") {
		t.Error("renew printed a token")
	}

	out, _, code = e.run("status", "--json")
	var st map[string]any
	json.Unmarshal([]byte(out), &st)
	if code != 0 || st["days_left"] != float64(90) || st["renewed_at"] != ev["renewed_at"] {
		t.Errorf("status exit %d: %s; want 90 days left, renewed at %v", code, out, ev["renewed_at"])
	}

	srv.SetPolicy(emulator.Policy{BlockDeviceCodeRefresh: true})
	out, _, code = e.run("renew", "--json")
	if last := lastEvent(t, out); code != 3 || last["code"] != "refresh_blocked" {
		t.Errorf("renew after a block: exit %d, %v", code, last)
	}
}

// TestReportSignInNeededEvent: when the stored sign-in is revoked mid-run,
// the reporter keeps spooling and writes one sign_in_needed event on
// stdout, however often delivery tries again.
func TestReportSignInNeededEvent(t *testing.T) {
	t.Parallel()
	srv, vars := inProcess(t, emulator.Options{MapsOperationTime: 100 * time.Millisecond})
	e := signedIn(t, srv, vars, emulator.ContributorUser)
	cmd := e.command(t.Context(), "report", "--batch-size", "10", "--max-delay", "100ms", "--signin-retry", "300ms")
	stdin, _ := cmd.StdinPipe()
	var stdout, logs syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for n := range 10 {
		io.WriteString(stdin, numbered(n)+"\n")
	}
	waitUntil(t, 20*time.Second, func() bool { return len(delivered(t, srv)) == 10 })

	srv.RevokeRefreshTokens(emulator.ContributorUser)
	srv.ExpireAccessTokens()
	for n := 10; n < 20; n++ {
		io.WriteString(stdin, numbered(n)+"\n")
	}
	waitUntil(t, 20*time.Second, func() bool { return strings.Contains(stdout.String(), "sign_in_needed") })
	time.Sleep(2 * time.Second) // several more tries
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "sign_in_needed" {
			events = append(events, ev)
		}
	}
	if len(events) != 1 || events[0]["code"] != "sign_in_needed" || !strings.Contains(events[0]["message"].(string), "revoked") {
		t.Errorf("sign_in_needed events %v, want one for the revocation\n%s", events, logs.String())
	}
	if n := len(delivered(t, srv)); n != 10 {
		t.Errorf("%d readings delivered while signed out", n)
	}
	stdin.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}
