package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzIdentityForms posts arbitrary form bodies to the device code, token
// and verification endpoints: the emulator answers every one with a 2xx
// or a 4xx in the service's shape, never a 5xx or a panic.
func FuzzIdentityForms(f *testing.F) {
	srv, err := New(Options{NoListener: true})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	id := srv.ClientID()
	f.Add("devicecode", "client_id="+id+"&scope=https://atlas.microsoft.com/user_impersonation+openid")
	f.Add("token", "client_id="+id+"&grant_type=device_code&device_code=abc")
	f.Add("token", "client_id="+id+"&grant_type=refresh_token&refresh_token=x&scope=https://atlas.microsoft.com/.default")
	f.Add("devicelogin", "user_code=ABC&action=approve&user=reader@emulator.test")
	f.Add("token", "%zz&&==;")
	f.Fuzz(func(t *testing.T, endpoint, body string) {
		path := map[string]string{
			"devicecode":  "/organizations/oauth2/v2.0/devicecode",
			"token":       "/organizations/oauth2/v2.0/token",
			"devicelogin": "/devicelogin",
		}[endpoint]
		if path == "" {
			return
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", endpoint, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && endpoint != "devicelogin" && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("%s %q: %d without an Entra error body: %s", endpoint, body, rec.Code, rec.Body)
		}
	})
}
