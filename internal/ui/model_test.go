package ui

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

func press(m Model, key string) (Model, tea.Cmd) {
	var k tea.KeyPressMsg
	switch key {
	case "ctrl+c":
		k = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "esc":
		k = tea.KeyPressMsg{Code: tea.KeyEscape}
	default:
		k = tea.KeyPressMsg{Code: rune(key[0]), Text: key}
	}
	next, cmd := m.Update(k)
	return next.(Model), cmd
}

func step(m Model, msg tea.Msg) (Model, tea.Cmd) {
	next, cmd := m.Update(msg)
	return next.(Model), cmd
}

// run executes a command and the commands it batches, returning messages.
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, run(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func waiting(t *testing.T, opts Options) Model {
	return screen(t, opts, 80, 24, codeMsg{code: testCode()})
}

func TestCancelKeysExit130(t *testing.T) {
	for _, key := range []string{"q", "ctrl+c", "esc"} {
		t.Run(key, func(t *testing.T) {
			m, cmd := press(waiting(t, Options{}), key)
			if _, err := m.Outcome(); !errors.Is(err, context.Canceled) {
				t.Errorf("outcome %v, want cancelled", err)
			}
			if msgs := run(cmd); len(msgs) != 1 || msgs[0] != (tea.QuitMsg{}) {
				t.Errorf("%s did not quit: %v", key, msgs)
			}
		})
	}
}

func TestQuitAfterFailureKeepsTheError(t *testing.T) {
	declined := &auth.Error{Kind: auth.KindDeclined, Reason: "declined"}
	m, _ := step(waiting(t, Options{}), resultMsg{err: declined})
	m, _ = press(m, "q")
	if _, err := m.Outcome(); !errors.Is(err, declined) {
		t.Errorf("outcome %v, want the decline", err)
	}
}

func TestCopyKeySetsClipboardOverOSC52(t *testing.T) {
	m, cmd := press(waiting(t, Options{}), "c")
	if !strings.Contains(plain(m), "Code copied") {
		t.Error("no feedback after copying")
	}
	var found bool
	for _, msg := range run(cmd) {
		// Bubble Tea's set-clipboard message is an unexported string type.
		if v := reflect.ValueOf(msg); v.Kind() == reflect.String && v.String() == "VDHMLBQRQ" {
			found = true
		}
		if _, ok := msg.(clearFlashMsg); ok {
			m, _ = step(m, msg)
		}
	}
	if !found {
		t.Error("c did not ask the terminal to set the clipboard to the code")
	}
	if strings.Contains(plain(m), "Code copied") {
		t.Error("the copied notice never clears")
	}
}

func TestRenewKey(t *testing.T) {
	expired := &auth.Error{Kind: auth.KindCodeExpired, Reason: "expired"}
	m, _ := step(waiting(t, Options{}), resultMsg{err: expired})
	if m.State() != StateExpired || !strings.Contains(plain(m), "r new code") {
		t.Fatalf("state %v, screen:\n%s", m.State(), plain(m))
	}
	calls := 0
	m.flow.Start = func(context.Context) (*auth.DeviceCode, error) { calls++; return testCode(), nil }
	m, cmd := press(m, "r")
	if m.State() != StateStarting {
		t.Fatalf("state after r: %v", m.State())
	}
	for _, msg := range run(cmd) {
		if cm, ok := msg.(codeMsg); ok {
			m, _ = step(m, cm)
		}
	}
	if calls != 1 || m.State() != StateWaiting {
		t.Errorf("after r: %d calls to Start, state %v", calls, m.State())
	}
	// r does nothing while waiting.
	if m2, cmd := press(m, "r"); m2.State() != StateWaiting || cmd != nil {
		t.Error("r while waiting changed something")
	}
}

func TestAutomaticRenewal(t *testing.T) {
	expired := &auth.Error{Kind: auth.KindCodeExpired, Reason: "expired"}
	m := waiting(t, Options{Renew: 1})
	m.flow.Start = func(context.Context) (*auth.DeviceCode, error) { return testCode(), nil }
	m, cmd := step(m, resultMsg{err: expired})
	if m.State() != StateStarting || cmd == nil {
		t.Fatalf("expiry with a renewal left: state %v", m.State())
	}
	m, _ = step(m, codeMsg{gen: m.gen, code: testCode()})
	m, cmd = step(m, resultMsg{gen: m.gen, err: expired})
	if m.State() != StateExpired || cmd != nil {
		t.Errorf("expiry with no renewal left: state %v", m.State())
	}
}

func TestStaleMessagesAreIgnored(t *testing.T) {
	m := waiting(t, Options{})
	m.gen = 3
	m, _ = step(m, resultMsg{gen: 2, res: auth.Result{}})
	if m.State() != StateWaiting {
		t.Errorf("a result for an old code changed the state to %v", m.State())
	}
}

func TestSignedInQuits(t *testing.T) {
	m, cmd := step(waiting(t, Options{}), resultMsg{res: auth.Result{Account: auth.Account{Username: "a@b"}}})
	if m.State() != StateSignedIn || run(cmd)[0] != (tea.QuitMsg{}) {
		t.Fatalf("state %v", m.State())
	}
	if res, err := m.Outcome(); err != nil || res.Account.Username != "a@b" {
		t.Errorf("outcome %v, %v", res, err)
	}
}

func TestStartFailureShowsExplanation(t *testing.T) {
	m := screen(t, Options{}, 80, 24, codeMsg{err: errors.New("no client")})
	if m.State() != StateError || !strings.Contains(plain(m), "Explained: no client") {
		t.Errorf("state %v, screen:\n%s", m.State(), plain(m))
	}
}

func TestTickCountsDown(t *testing.T) {
	m := waiting(t, Options{})
	m, cmd := step(m, tickMsg(epoch.Add(32*time.Second)))
	if !strings.Contains(plain(m), "Expires in 14:00") || cmd == nil {
		t.Errorf("countdown after 32 s:\n%s", plain(m))
	}
}

func TestKioskShowsOnlyCancelAndFillsScreen(t *testing.T) {
	m := waiting(t, Options{Kiosk: true})
	v := m.View()
	if !v.AltScreen {
		t.Error("kiosk does not use the alternate screen")
	}
	if s := plain(m); strings.Contains(s, "copy") || !strings.Contains(s, "ctrl+c cancel") {
		t.Errorf("kiosk hints:\n%s", s)
	}
	if _, cmd := press(m, "c"); cmd != nil {
		t.Error("c does something in kiosk mode")
	}
}

// TestQRWholeOrAbsent resizes through many sizes: the QR code is either
// drawn whole (every row of it) or not at all, and the screen always fits.
func TestQRWholeOrAbsent(t *testing.T) {
	for w := 30; w <= 130; w += 7 {
		for h := 8; h <= 44; h += 3 {
			m := screen(t, Options{}, w, h, codeMsg{code: testCode()})
			s := plain(m)
			assertFits(t, s, w, h)
			hasFinder := strings.Contains(s, "█▀▀▀▀▀█")
			hint := strings.Contains(s, "Enlarge the window")
			if hasFinder == hint {
				t.Errorf("%dx%d: QR drawn %v, enlarge hint %v", w, h, hasFinder, hint)
			}
			// A whole code shows the top of all three finder patterns and
			// the bottom of the lower-left one.
			if hasFinder && (strings.Count(s, "█▀▀▀▀▀█") != 3 || !strings.Contains(s, "▀▀▀▀▀▀▀")) {
				t.Errorf("%dx%d: a broken QR code:\n%s", w, h, s)
			}
		}
	}
}

func TestCompleteURLGoesInTheQRCode(t *testing.T) {
	code := testCode()
	code.VerificationURLComplete = code.VerificationURL + "?code=" + code.UserCode
	m := screen(t, Options{}, 80, 24, codeMsg{code: code})
	if m.qrText() != code.VerificationURLComplete {
		t.Errorf("QR text %q, want the complete URL", m.qrText())
	}
	if s := plain(m); !strings.Contains(s, "no typing needed") || !strings.Contains(s, code.VerificationURL) {
		t.Errorf("the screen does not say the code need not be typed:\n%s", s)
	}
	if plain(waiting(t, Options{})) == plain(m) {
		t.Error("the screen is the same with and without a complete URL")
	}
}
