package cli_test

import (
	"net"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mapsdevice/mapsdevice/emulator"
)

// TestBrowserLoginInChromium: 'login --browser --port N' prints the
// address; headless Chromium opens it, consents as the reader, and the
// answer reaches the CLI on the loopback port: signed in, with PKCE.
func TestBrowserLoginInChromium(t *testing.T) {
	srv, vars := inProcess(t, emulator.Options{})
	ctx := browser(t, 1280, 800)
	e := newEnv(t, vars...).with("MAPSDEVICE_TOKEN_STORE=file")
	_, port, _ := net.SplitHostPort(freeAddr(t))
	p := e.start("login", "--browser", "--port", port, "--json")
	ev := p.event(t)
	address, _ := ev["url"].(string)
	if ev["event"] != "browser_sign_in" || ev["port"] != port || !strings.HasPrefix(address, srv.Authority()+"/oauth2/v2.0/authorize?") ||
		!strings.Contains(address, "code_challenge_method=S256") {
		t.Fatalf("first event %v", ev)
	}
	var consent string
	do(t, ctx,
		chromedp.Navigate(address),
		chromedp.WaitVisible(`#approve`),
		chromedp.Text(`main`, &consent),
		chromedp.Click(`input[value="`+emulator.ReaderUser+`"]`, chromedp.NodeReady),
		chromedp.Click(`#approve`, chromedp.NodeReady),
		chromedp.WaitReady(`body`))
	if !strings.Contains(consent, "Access Azure Maps") {
		t.Errorf("the consent page does not name the permission:\n%s", consent)
	}
	final := p.event(t)
	if final["event"] != "signed_in" || final["username"] != emulator.ReaderUser {
		t.Fatalf("the CLI ended with %v; stderr: %s", final, p.stderr.String())
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("login exit %d", code)
	}
	// The sign-in is kept: a token comes silently afterwards.
	if out, stderr, code := e.run("token"); code != 0 || !isJWT(out) {
		t.Errorf("token after a browser login: exit %d\n%s", code, stderr)
	}
}
