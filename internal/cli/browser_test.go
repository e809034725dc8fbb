package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// browser starts real headless Chromium, or skips when there is none
// (unless MAPSDEVICE_REQUIRE_BROWSER=1, as in CI).
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MAPSDEVICE_REQUIRE_BROWSER") == "1" {
			t.Fatal("MAPSDEVICE_REQUIRE_BROWSER=1 but chromium is not installed")
		}
		t.Skip("chromium is not installed; the browser tests need it")
	}
	// Not t.TempDir: Chromium may still be writing its profile while the
	// test's own clean-up runs.
	profile, err := os.MkdirTemp("", "mapsdevice-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The emulator's CA is the test's own; Chromium has its own roots.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc() // waits for the browser to exit
		os.RemoveAll(profile)
	})
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs browser actions; the test fails at the first that fails.
func do(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// shot saves a screenshot of the page under test-artifacts/browser.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join("..", "..", "test-artifacts", "browser")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

var viewports = []struct {
	name          string
	width, height int
}{{"phone", 375, 667}, {"desktop", 1280, 800}}

// TestApprovalPageSignsInTheCLI: a person types the code, picks a user,
// reads the consent and approves; the real CLI's login then ends signed
// in as that user.
func TestApprovalPageSignsInTheCLI(t *testing.T) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			_, vars := inProcess(t, emulator.Options{})
			ctx := browser(t, vp.width, vp.height)
			e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file")
			p := e.start("login", "--json")
			device := p.event(t)

			var consent string
			do(t, ctx,
				chromedp.Navigate(device["verification_uri"].(string)),
				chromedp.WaitVisible(`#user_code`))
			shot(t, ctx, "1-enter-code-"+vp.name)
			do(t, ctx,
				chromedp.SendKeys(`#user_code`, strings.ToLower(device["user_code"].(string))),
				chromedp.Click(`button[type=submit]`),
				chromedp.WaitReady(`.perm`),
				chromedp.Click(`input[value="`+emulator.ReaderUser+`"]`, chromedp.NodeReady),
				chromedp.Text(`main`, &consent))
			shot(t, ctx, "2-consent-"+vp.name)
			do(t, ctx,
				chromedp.Click(`button[value=approve]`, chromedp.NodeReady),
				chromedp.WaitReady(`//h1[contains(., "signed in")]`))
			shot(t, ctx, "3-approved-"+vp.name)
			if !strings.Contains(consent, "Access Azure Maps") {
				t.Errorf("the consent page does not name the permission:\n%s", consent)
			}
			final := p.event(t)
			if final["event"] != "signed_in" || final["username"] != emulator.ReaderUser {
				t.Errorf("the CLI ended with %v", final)
			}
			if code := p.wait(t); code != 0 {
				t.Errorf("login exit %d", code)
			}
		})
	}
}

func TestApprovalPageDenyAndBadCodes(t *testing.T) {
	srv, vars := inProcess(t, emulator.Options{})
	ctx := browser(t, 375, 667)
	page := srv.URL() + "/devicelogin"
	submit := func(code string) string {
		var text string
		do(t, ctx,
			chromedp.Navigate(page),
			chromedp.WaitVisible(`#user_code`),
			chromedp.SendKeys(`#user_code`, code),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitReady(`.error, .perm`, chromedp.ByQuery),
			chromedp.Text(`main`, &text))
		return text
	}

	t.Run("deny", func(t *testing.T) {
		e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file")
		p := e.start("login", "--json")
		device := p.event(t)
		submit(device["user_code"].(string))
		do(t, ctx,
			chromedp.Click(`button[value=deny]`, chromedp.NodeReady),
			chromedp.WaitReady(`//h1[contains(., "declined")]`))
		shot(t, ctx, "4-denied-phone")
		if final := p.event(t); final["code"] != "declined" {
			t.Errorf("the CLI ended with %v", final)
		}
	})
	t.Run("wrong code", func(t *testing.T) {
		text := submit("NOTACODE")
		shot(t, ctx, "5-wrong-code-phone")
		if !strings.Contains(text, "recognised") {
			t.Errorf("no clear error for a wrong code:\n%s", text)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file")
		p := e.start("login", "--json")
		device := p.event(t)
		srv.Expire(device["user_code"].(string))
		text := submit(device["user_code"].(string))
		shot(t, ctx, "6-expired-code-phone")
		if !strings.Contains(text, "expired") {
			t.Errorf("no clear error for an expired code:\n%s", text)
		}
	})
}
