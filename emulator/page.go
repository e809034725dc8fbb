package emulator

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
)

// pageData feeds the verification page template.
type pageData struct {
	Step     string // code, consent, approved, denied
	UserCode string
	Users    []User
	User     string
	Error    string
	AppName  string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if eq .Step "code"}}Enter code{{else if eq .Step "consent"}}Permissions requested{{else if eq .Step "approved"}}Signed in{{else}}Sign-in declined{{end}} · Emulated Entra ID</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f2f2f2;color:#1b1b1b}
main{max-width:440px;margin:0 auto;padding:24px 16px}
.card{background:#fff;padding:28px 24px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.brand{font-size:14px;color:#5e5e5e;margin:0 0 16px}
h1{font-size:24px;font-weight:600;margin:0 0 12px}
p{margin:0 0 16px}
label{display:block;margin:0 0 6px;font-weight:600}
input[type=text]{width:100%;font-size:20px;padding:8px 4px;border:0;border-bottom:2px solid #666;letter-spacing:.12em;text-transform:uppercase;background:transparent}
input[type=text]:focus{outline:none;border-bottom-color:#0067b8}
.users{margin:0 0 16px;padding:0;border:0}
legend{font-weight:600;margin:0 0 6px;padding:0}
.users label{font-weight:400;display:flex;gap:10px;align-items:center;padding:10px;border:1px solid #ccc;margin-bottom:8px;cursor:pointer}
.users small{display:block;color:#5e5e5e}
.perm{border-left:4px solid #0067b8;padding:8px 12px;background:#f5f9fd;margin:0 0 16px}
.error{color:#a4262c;background:#fde7e9;padding:10px 12px;margin:0 0 16px}
.buttons{display:flex;gap:12px;justify-content:flex-end;flex-wrap:wrap}
button{font-size:16px;min-width:108px;padding:8px 16px;border:0;cursor:pointer}
.primary{background:#0067b8;color:#fff}
.secondary{background:#ccc;color:#1b1b1b}
footer{font-size:12px;color:#5e5e5e;margin-top:16px;text-align:center}
</style>
</head>
<body><main><div class="card">
<p class="brand">Emulated Microsoft Entra ID</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if eq .Step "code"}}
<h1>Enter code</h1>
<p>Enter the code displayed on your device to allow it to access your account.</p>
<form method="post" action="/devicelogin">
<label for="user_code">Code</label>
<p><input type="text" id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off" autocapitalize="characters" autofocus required></p>
<div class="buttons"><button class="primary" type="submit">Next</button></div>
</form>
{{else if eq .Step "consent"}}
<h1>Permissions requested</h1>
<p><strong>{{.AppName}}</strong> on your device wants to:</p>
<div class="perm"><strong>Access Azure Maps</strong><br>Sign in as you and read or change Azure Maps data your account can reach.</div>
<form method="post" action="/devicelogin">
<input type="hidden" name="user_code" value="{{.UserCode}}">
<fieldset class="users"><legend>Sign in as</legend>
{{range $i, $u := .Users}}<label><input type="radio" name="user" value="{{$u.Username}}" {{if eq $u.Username $.User}}checked{{end}}><span>{{$u.Username}}<small>{{if $u.Name}}{{$u.Name}} · {{end}}{{$u.Role}}</small></span></label>
{{end}}</fieldset>
<div class="buttons">
<button class="secondary" type="submit" name="action" value="deny">Deny</button>
<button class="primary" type="submit" name="action" value="approve">Approve</button>
</div>
</form>
{{else if eq .Step "approved"}}
<h1>You're signed in</h1>
<p>You have signed in to <strong>{{.AppName}}</strong> on your device as <strong>{{.User}}</strong>. You may now close this window.</p>
{{else}}
<h1>Sign-in declined</h1>
<p>You declined the sign-in. The device has not been given access. You may now close this window.</p>
{{end}}
</div><footer>Local emulator for testing. Not affiliated with Microsoft.</footer></main></body></html>
`))

const appName = "mapsdevice"

func (s *Server) deviceLoginPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if code == "" {
		s.renderPage(w, r, http.StatusOK, pageData{Step: "code"}, "")
		return
	}
	// Reached through verification_uri_complete: go straight to consent.
	s.consentStep(w, r, code, "")
}

func (s *Server) deviceLoginForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderPage(w, r, http.StatusBadRequest, pageData{Step: "code", Error: "The form could not be read. Please try again."}, "bad_request")
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("user_code"))
	user := r.PostForm.Get("user")
	switch action := r.PostForm.Get("action"); action {
	case "":
		s.consentStep(w, r, code, user)
	case "approve":
		if user == "" {
			user = s.Users()[0].Username
		}
		if err := s.Approve(code, user); err != nil {
			s.codeError(w, r, code, user, err)
			return
		}
		s.renderPage(w, r, http.StatusOK, pageData{Step: "approved", UserCode: code, User: user}, "")
	case "deny":
		if err := s.Deny(code); err != nil {
			s.codeError(w, r, code, user, err)
			return
		}
		s.renderPage(w, r, http.StatusOK, pageData{Step: "denied", UserCode: code}, "")
	default:
		s.renderPage(w, r, http.StatusBadRequest, pageData{Step: "code", UserCode: code,
			Error: "Unknown action " + action + ": use approve or deny."}, "bad_action")
	}
}

func (s *Server) consentStep(w http.ResponseWriter, r *http.Request, code, user string) {
	s.id.mu.Lock()
	_, err := s.id.pendingGrant(code)
	s.id.mu.Unlock()
	if err != nil {
		s.codeError(w, r, code, user, err)
		return
	}
	s.renderPage(w, r, http.StatusOK, pageData{Step: "consent", UserCode: normalizeUserCode(code), User: user}, "")
}

func (s *Server) codeError(w http.ResponseWriter, r *http.Request, code, user string, err error) {
	d := pageData{Step: "code", UserCode: code}
	status, kind := http.StatusBadRequest, "bad_code"
	switch {
	case strings.TrimSpace(code) == "":
		d.Error = "Enter the code displayed on your device."
		kind = "missing_code"
	case errors.Is(err, ErrExpiredCode):
		d.Error = "That code has expired. Get a new code on your device and try again."
		kind = "expired_code"
	case errors.Is(err, ErrCodeUsed):
		d.Error = "That code has already been used. Get a new code on your device if you need to sign in again."
		status, kind = http.StatusConflict, "used_code"
	case errors.Is(err, ErrUnknownUser):
		d = pageData{Step: "consent", UserCode: normalizeUserCode(code), User: user,
			Error: "There is no user " + user + " here. Pick one of the users below."}
		kind = "unknown_user"
	default:
		d.Error = "That code wasn't recognised. Check the code on your device and try again."
	}
	s.renderPage(w, r, status, d, kind)
}

// renderPage answers people with HTML and scripts that ask for JSON with JSON.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, d pageData, errKind string) {
	d.AppName = appName
	d.Users = s.Users()
	if d.User == "" && len(d.Users) > 0 {
		d.User = d.Users[0].Username
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		body := map[string]any{"step": d.Step}
		if errKind != "" {
			body["error"], body["message"] = errKind, d.Error
		}
		if d.Step == "approved" {
			body["user"] = d.User
		}
		writeJSON(w, status, body)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, d)
}
