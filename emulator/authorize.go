package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The authorization code flow with PKCE, for a browser sign-in with a
// loopback redirect (RFC 8252): GET /{tenant}/oauth2/v2.0/authorize shows
// the consent page, its form POSTs back, and the answer goes to the
// redirect URI as an auto-submitted form (response_mode=form_post, which
// MSAL asks for). Where it differs from Entra ID: only loopback http
// redirect URIs on localhost or 127.0.0.1 are accepted, on any port, and
// only PKCE with S256; approving is the whole sign-in, as on /devicelogin.

// EndpointAuthorize is the browser sign-in page.
const EndpointAuthorize Endpoint = "authorize"

// authCodeLifetime is how long a code may wait to be redeemed (Entra: 10 minutes).
const authCodeLifetime = 10 * time.Minute

type authCode struct {
	user        User
	clientID    string
	redirectURI string
	challenge   string
	scopes      []string
	res         resource
	expires     time.Time
}

var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in - emulated Microsoft Entra ID</title>
<style>body{font-family:system-ui,sans-serif;max-width:440px;margin:40px auto;padding:0 16px}
label{display:block;padding:8px;border:1px solid #ccc;margin:6px 0}button{padding:8px 16px;margin-right:8px}</style></head>
<body><main>
{{if .Post}}<form id="post" method="post" action="{{.RedirectURI}}">{{range $k, $v := .Post}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<p>Returning to the app...</p><noscript><button>Continue</button></noscript></form>
<script>document.getElementById("post").submit()</script>
{{else}}<h1>Permissions requested</h1>
<p><strong>mapsdevice</strong> on this computer wants to:</p>
<ul><li>Access Azure Maps</li><li>Maintain access to data you have given it access to</li></ul>
<form method="post">{{range $k, $v := .Query}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
{{range $i, $u := .Users}}<label><input type="radio" name="user" value="{{$u.Username}}"{{if eq $i 0}} checked{{end}}> {{$u.Username}}</label>{{end}}
<p><button id="approve" name="action" value="approve">Accept</button><button id="deny" name="action" value="deny">Cancel</button></p>
</form>{{end}}
</main></body></html>`))

type authorizeData struct {
	Query       map[string]string
	Users       []User
	RedirectURI string
	Post        map[string]string
}

// loopback accepts http://localhost:PORT/… and http://127.0.0.1:PORT/….
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1")
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if !s.tenantOK(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	q := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "response_mode"} {
		q[k] = r.Form.Get(k)
	}
	if q["client_id"] != s.opts.ClientID || !loopback(q["redirect_uri"]) || q["code_challenge"] == "" || q["code_challenge_method"] != "S256" {
		// Never redirect to an address not known to be the app's.
		http.Error(w, "AADSTS50011: the request needs this app's client_id, a loopback redirect_uri and PKCE with S256.", http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = authorizePage.Execute(w, authorizeData{Query: q, Users: s.Users()})
		return
	}
	post := map[string]string{"state": q["state"]}
	switch r.PostForm.Get("action") {
	case "approve":
		code, errName, errDesc := s.newAuthCode(q, r.PostForm.Get("user"))
		if errName != "" {
			post["error"], post["error_description"] = errName, errDesc
		} else {
			post["code"] = code
		}
	default:
		post["error"], post["error_description"] = "access_denied", "AADSTS65004: User declined to consent to access the app."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = authorizePage.Execute(w, authorizeData{RedirectURI: q["redirect_uri"], Post: post})
}

// newAuthCode records an approved sign-in, or says why not.
func (s *Server) newAuthCode(q map[string]string, username string) (code, errName, errDesc string) {
	scopes := strings.Fields(q["scope"])
	var res resource
	for _, sc := range scopes {
		rest, ok := strings.CutPrefix(sc, "https://")
		if !ok {
			continue
		}
		host, _, _ := strings.Cut(rest, "/")
		if found, known := findResource("https://" + host); known && found.delegated {
			res = found
		}
	}
	if res.uri == "" {
		return "", "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid."
	}
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	if username == "" {
		username = s.id.users[0].Username
	}
	u, ok := s.id.user(username)
	if !ok {
		return "", "access_denied", "AADSTS50034: The user account does not exist in this directory."
	}
	if ref, refused := s.id.policy.refuseBrowser(u); refused {
		return "", ref.name, fmt.Sprintf("AADSTS%d: %s", ref.code, ref.description)
	}
	code = randomToken(32)
	if s.id.authCodes == nil {
		s.id.authCodes = map[string]*authCode{}
	}
	s.id.authCodes[code] = &authCode{user: u, clientID: q["client_id"], redirectURI: q["redirect_uri"], challenge: q["code_challenge"],
		scopes: scopes, res: res, expires: time.Now().Add(authCodeLifetime)}
	return code, "", ""
}

// redeemAuthCode answers grant_type=authorization_code: the code once,
// for the same client and redirect URI, with the PKCE verifier.
func (s *Server) redeemAuthCode(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	code := r.PostForm.Get("code")
	ac := s.id.authCodes[code]
	delete(s.id.authCodes, code)
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case ac == nil || now.After(ac.expires):
		writeError(w, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired or was already used.")
	case ac.clientID != r.PostForm.Get("client_id") || ac.redirectURI != r.PostForm.Get("redirect_uri"):
		writeError(w, http.StatusBadRequest, "invalid_grant", 50148, "The code was issued to another client or redirect URI.")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != ac.challenge:
		writeError(w, http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	default:
		body, err := s.issueTokens(refreshGrant{user: ac.user, clientID: ac.clientID, mfa: s.id.policy.MFARequired}, ac.scopes, ac.res, now)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "server_error", 0, "The emulator could not sign a token.")
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}
