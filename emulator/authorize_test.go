package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestAuthorizeCodeWithPKCE: the consent form gives a code once, to the
// redirect URI asked for, redeemed only with the verifier of the
// challenge; a redirect URI that is not loopback gets no page at all.
func TestAuthorizeCodeWithPKCE(t *testing.T) {
	srv, err := New(Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	verifier := "a-verifier-long-enough-for-rfc-7636-0123456789abcdef"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {srv.ClientID()}, "redirect_uri": {"http://localhost:8400"}, "scope": {MapsScope + " offline_access"},
		"state": {"s1"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"response_type": {"code"}, "response_mode": {"form_post"},
	}
	authorize := srv.Authority() + "/oauth2/v2.0/authorize"

	bad := url.Values{}
	for k, v := range q {
		bad[k] = v
	}
	bad.Set("redirect_uri", "https://evil.example/cb")
	if resp, err := c.Get(authorize + "?" + bad.Encode()); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign redirect URI: %v %v", resp.StatusCode, err)
	}

	form := url.Values{"action": {"approve"}, "user": {ReaderUser}}
	for k, v := range q {
		form[k] = v
	}
	resp, err := c.PostForm(authorize, form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(string(page))
	if m == nil || !strings.Contains(string(page), `action="http://localhost:8400"`) || !strings.Contains(string(page), `value="s1"`) {
		t.Fatalf("no form post of a code to the redirect URI:\n%s", page)
	}
	redeem := func(code, verifier string) (int, string) {
		resp, err := c.PostForm(srv.Authority()+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"authorization_code"}, "client_id": {srv.ClientID()}, "code": {code},
			"redirect_uri": {"http://localhost:8400"}, "code_verifier": {verifier}, "scope": {MapsScope},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		name     string
		verifier string
		status   int
		want     string
	}{
		{"wrong verifier", "another-verifier", 400, "AADSTS501481"},
		{"used already", verifier, 400, "AADSTS70008"},
	}
	// A wrong verifier spends the code, as a replay must not get a second try.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := redeem(m[1], tt.verifier)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %s, want %d %s", status, body, tt.status, tt.want)
			}
		})
	}

	resp, _ = c.PostForm(authorize, form)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m = regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(string(page))
	if status, body := redeem(m[1], verifier); status != 200 || !strings.Contains(body, `"refresh_token"`) {
		t.Errorf("right verifier: %d %s", status, body)
	}
}
