package ui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var epoch = time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)

func testCode() *auth.DeviceCode {
	return &auth.DeviceCode{
		UserCode:        "VDHMLBQRQ",
		VerificationURL: "https://127.0.0.1:8443/devicelogin",
		ExpiresAt:       epoch.Add(14*time.Minute + 32*time.Second),
		Interval:        5 * time.Second,
	}
}

// screen builds a model in a state at a size, with the clock pinned.
func screen(t *testing.T, opts Options, w, h int, msgs ...tea.Msg) Model {
	t.Helper()
	opts.Now = func() time.Time { return epoch }
	m := New(context.Background(), Flow{Explain: func(err error) string { return "Explained: " + err.Error() }}, opts)
	msgs = append([]tea.Msg{tea.WindowSizeMsg{Width: w, Height: h}}, msgs...)
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// plain is the screen as a person reads it, without colour codes.
func plain(m Model) string { return ansi.Strip(m.View().Content) }

// subject is what a login says it signs in to.
var subject = Options{App: "mapsdevice", Tenant: "6d617073-6465-4076-8963-656d756c6174",
	Scopes: []string{"https://atlas.microsoft.com/user_impersonation", "offline_access"}}

// TestWaitingSaysWhatItSignsInTo: the app, tenant, access and the whole
// warning are on the screen beside a QR code, at 80x24 too.
func TestWaitingSaysWhatItSignsInTo(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {200, 60}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			got := plain(screen(t, subject, size.w, size.h, codeMsg{code: testCode()}))
			assertFits(t, got, size.w, size.h)
			if !strings.Contains(got, "█▀▀▀▀▀█") {
				t.Errorf("no QR code:\n%s", got)
			}
			// The text column read on its own, with the QR code's blocks
			// taken out of each line.
			flat := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
				if strings.ContainsRune("█▀▄", r) {
					return ' '
				}
				return r
			}, got)), " ")
			for _, want := range []string{"App: mapsdevice", "Tenant: " + subject.Tenant, "Access: Azure Maps (user_impersonation)", PhishingWarning} {
				if !strings.Contains(flat, want) {
					t.Errorf("screen lacks %q:\n%s", want, got)
				}
			}
		})
	}
}

func TestScopeNames(t *testing.T) {
	tests := []struct {
		scopes []string
		want   string
	}{
		{[]string{"https://atlas.microsoft.com/user_impersonation", "openid", "offline_access"}, "Azure Maps (user_impersonation)"},
		{[]string{"https://vault.azure.net/.default"}, "Key Vault (.default)"},
		{[]string{"https://example.org/read", "custom"}, "example.org (read), custom"},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := ScopeNames(tt.scopes); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGoldenViews(t *testing.T) {
	code := codeMsg{code: testCode()}
	signed := resultMsg{res: auth.Result{Account: auth.Account{Username: "contributor@emulator.test", Name: "Connie Contributor", TenantID: "6d617073-6465-4076-8963-656d756c6174"}}}
	states := []struct {
		name string
		opts Options
		msgs []tea.Msg
	}{
		{"starting", Options{}, nil},
		{"waiting", subject, []tea.Msg{code}},
		{"waiting-kiosk", Options{Kiosk: true, App: subject.App, Tenant: subject.Tenant, Scopes: subject.Scopes}, []tea.Msg{code}},
		{"signed-in", Options{}, []tea.Msg{code, signed}},
		{"declined", Options{}, []tea.Msg{code, resultMsg{err: &auth.Error{Kind: auth.KindDeclined, Reason: "declined"}}}},
		{"expired", Options{}, []tea.Msg{code, resultMsg{err: &auth.Error{Kind: auth.KindCodeExpired, Reason: "expired"}}}},
		{"error", Options{}, []tea.Msg{code, resultMsg{err: &auth.Error{Kind: auth.KindNetwork, Reason: "the identity service could not be reached"}}}},
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		for _, st := range states {
			name := fmt.Sprintf("%s-%dx%d", st.name, size.w, size.h)
			t.Run(name, func(t *testing.T) {
				m := screen(t, st.opts, size.w, size.h, st.msgs...)
				got := plain(m)
				assertFits(t, got, size.w, size.h)
				golden(t, name, got)
			})
		}
	}
}

func assertFits(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) > h {
		t.Errorf("%d lines on a %d-line terminal", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d columns on a %d-column terminal", i, n, w)
		}
	}
}
