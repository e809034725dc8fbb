package auth_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapsdevice/mapsdevice/emulator"
	"github.com/mapsdevice/mapsdevice/emulator/emulatortest"
	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// These tests run MSAL's confidential client against the emulator over
// TLS: the credential kinds a daemon uses, and each refusal with its kind.

func appConfig(srv *emulator.Server, clientID string) auth.AppConfig {
	return auth.AppConfig{Authority: srv.Authority(), ClientID: clientID, Transport: srv.Client().Transport}
}

// tokenRequests counts the requests that reached the token endpoint.
func tokenRequests(srv *emulator.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == emulator.EndpointToken {
			n++
		}
	}
	return n
}

// writeSecret writes a file with mode perm.
func writeSecret(t *testing.T, dir, name, value string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkAppToken checks that res is an app token of the app whose service
// principal is oid.
func checkAppToken(t *testing.T, srv *emulator.Server, res auth.Result, appID, oid string) {
	t.Helper()
	claims, err := srv.VerifyAccessToken(res.AccessToken)
	if err != nil {
		t.Fatalf("the emulator does not accept its own token: %v", err)
	}
	if claims["aud"] != emulator.MapsAudience && claims["aud"] != auth.MapsResource {
		t.Errorf("aud %v, want Azure Maps", claims["aud"])
	}
	if res.Claims.IDType != "app" || res.Claims.AppID != appID || res.Claims.ObjectID != oid || res.Claims.TenantID != srv.TenantID() {
		t.Errorf("claims %+v, want an app token of %s (oid %s) in %s", res.Claims, appID, oid, srv.TenantID())
	}
	if _, scp := claims["scp"]; scp {
		t.Errorf("an app token with scp %v", claims["scp"])
	}
	if time.Until(res.ExpiresOn) < 5*time.Minute {
		t.Errorf("expires %s, want the app token lifetime", res.ExpiresOn)
	}
}

// TestClientSecret: every place a secret can come from signs the app in;
// the first token comes from the network, the second from memory.
func TestClientSecret(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, secret := srv.SecretApp()
	dir := t.TempDir()
	file := writeSecret(t, dir, "secret", secret, 0o600)
	credsDir := t.TempDir()
	writeSecret(t, credsDir, auth.CredentialsFile, secret, 0o400)

	tests := []struct {
		name string
		src  auth.SecretSource
	}{
		{"file", auth.SecretSource{File: file}},
		{"standard input", auth.SecretSource{File: "-", Stdin: strings.NewReader(secret + "\n")}},
		{"environment", auth.SecretSource{Value: secret}},
		{"systemd credentials", auth.SecretSource{CredentialsDir: credsDir}},
		{"a file wins over the environment", auth.SecretSource{File: file, Value: "not-the-secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warned []error
			cfg := appConfig(srv, clientID)
			cfg.Warn = func(err error) { warned = append(warned, err) }
			app, err := auth.NewClientSecret(cfg, tt.src)
			if err != nil {
				t.Fatalf("NewClientSecret: %v", err)
			}
			before := tokenRequests(srv)
			res, err := app.AccessToken(testCtx(t), "", false)
			if err != nil {
				t.Fatalf("AccessToken: %v", err)
			}
			checkAppToken(t, srv, res, clientID, emulator.SecretAppObjectID)
			if res.FromCache || tokenRequests(srv)-before != 1 {
				t.Errorf("first token: from cache %v, %d requests; want 1 from the network", res.FromCache, tokenRequests(srv)-before)
			}
			again, err := app.AccessToken(testCtx(t), "", false)
			if err != nil {
				t.Fatalf("second AccessToken: %v", err)
			}
			if !again.FromCache || again.AccessToken != res.AccessToken || tokenRequests(srv)-before != 1 {
				t.Errorf("second token: from cache %v, same %v, %d requests; want the first from memory",
					again.FromCache, again.AccessToken == res.AccessToken, tokenRequests(srv)-before)
			}
			if len(warned) != 0 {
				t.Errorf("warned %v", warned)
			}
			if id := app.Identity(); id.Kind != auth.CredentialClientSecret || id.ClientID != clientID || id.Authority != srv.Authority() {
				t.Errorf("identity %+v", id)
			}
		})
	}
}

// TestClientSecretWarnings: a secret file others can read, and a secret
// shaped like a secret's id, are said, and the token is still tried.
func TestClientSecretWarnings(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, secret := srv.SecretApp()
	dir := t.TempDir()
	tests := []struct {
		name    string
		value   string
		perm    os.FileMode
		want    func(error) bool
		wantErr auth.Kind
	}{
		{"readable by others", secret, 0o644, func(err error) bool {
			var re *auth.ReadableError
			return errors.As(err, &re) && re.Mode == 0o644
		}, 0},
		{"a secret's id", "b1a2c3d4-0000-4000-8000-0123456789ab", 0o600, func(err error) bool {
			return errors.Is(err, auth.ErrSecretLooksLikeID)
		}, auth.KindBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warned []error
			cfg := appConfig(srv, clientID)
			cfg.Warn = func(err error) { warned = append(warned, err) }
			app, err := auth.NewClientSecret(cfg, auth.SecretSource{File: writeSecret(t, dir, tt.name, tt.value, tt.perm)})
			if err != nil {
				t.Fatalf("NewClientSecret: %v", err)
			}
			if len(warned) != 1 || !tt.want(warned[0]) {
				t.Fatalf("warned %v", warned)
			}
			_, err = app.AccessToken(testCtx(t), "", false)
			if got, _ := kindOf(err); tt.wantErr != 0 && got != tt.wantErr {
				t.Errorf("AccessToken: %v, want kind %d", err, tt.wantErr)
			} else if tt.wantErr == 0 && err != nil {
				t.Errorf("AccessToken: %v", err)
			}
		})
	}
}

// TestAppRefusals: each refusal of Entra ID comes back as its kind, with
// its AADSTS code; a tenant that names no tenant is refused before any
// request.
func TestAppRefusals(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, secret := srv.SecretApp()
	expiring := emulator.App{Name: "expiring", ClientID: "0b1e6f2a-6d61-4073-9de7-00000000e001", Role: emulator.RoleDataContributor,
		Secrets: []emulator.AppSecret{{Value: "expired-secret-value"}}}
	srv2 := emulatortest.Start(t, emulator.Options{Apps: []emulator.App{expiring}})
	if err := srv2.ExpireAppSecrets(expiring.ClientID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		srv      *emulator.Server
		cfg      func(auth.AppConfig) auth.AppConfig
		secret   string
		resource string
		want     auth.Kind
		code     int
	}{
		{"wrong secret", srv, nil, "wrong", "", auth.KindBadSecret, 7000215},
		{"expired secret", srv2, func(c auth.AppConfig) auth.AppConfig { c.ClientID = expiring.ClientID; return c }, "expired-secret-value", "", auth.KindSecretExpired, 7000222},
		{"unknown app", srv, func(c auth.AppConfig) auth.AppConfig { c.ClientID = "0b1e6f2a-6d61-4073-9de7-0000000000aa"; return c }, secret, "", auth.KindUnknownClient, 700016},
		{"unknown resource", srv, nil, secret, "https://unknown.example.com", auth.KindResourceNotFound, 500011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := appConfig(tt.srv, clientID)
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			app, err := auth.NewClientSecret(cfg, auth.SecretSource{Value: tt.secret})
			if err != nil {
				t.Fatalf("NewClientSecret: %v", err)
			}
			_, err = app.AccessToken(testCtx(t), tt.resource, false)
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Kind != tt.want || ae.Code != tt.code {
				t.Fatalf("AccessToken: %v, want kind %d with AADSTS%d", err, tt.want, tt.code)
			}
		})
	}
	for _, tenant := range []string{"organizations", "common", "Common"} {
		t.Run("tenant "+tenant, func(t *testing.T) {
			before := len(srv.Requests())
			cfg := appConfig(srv, clientID)
			cfg.Authority = srv.URL() + "/" + tenant
			_, err := auth.NewClientSecret(cfg, auth.SecretSource{Value: secret})
			if got, _ := kindOf(err); got != auth.KindTenantRequired {
				t.Fatalf("NewClientSecret: %v, want KindTenantRequired", err)
			}
			if n := len(srv.Requests()) - before; n != 0 {
				t.Errorf("%d requests made, want none", n)
			}
		})
	}
	t.Run("no secret anywhere", func(t *testing.T) {
		_, err := auth.NewClientSecret(appConfig(srv, clientID), auth.SecretSource{})
		if !errors.Is(err, auth.ErrNoSecret) {
			t.Fatalf("NewClientSecret: %v, want ErrNoSecret", err)
		}
	})
}

// TestConcurrentRequestsMakeOne: requests for the same token at once
// make one request to the identity service.
func TestConcurrentRequestsMakeOne(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, secret := srv.SecretApp()
	app, err := auth.NewClientSecret(appConfig(srv, clientID), auth.SecretSource{Value: secret})
	if err != nil {
		t.Fatal(err)
	}
	// Held up so that every caller arrives while the first still waits.
	srv.InjectFault(emulator.EndpointToken, emulator.Fault{Count: 1, Delay: 500 * time.Millisecond})
	var wg sync.WaitGroup
	tokens := make([]string, 8)
	for i := range tokens {
		wg.Go(func() {
			res, err := app.AccessToken(testCtx(t), "", false)
			if err != nil {
				t.Errorf("AccessToken: %v", err)
			}
			tokens[i] = res.AccessToken
		})
	}
	wg.Wait()
	if n := tokenRequests(srv); n != 1 {
		t.Errorf("%d token requests for %d callers, want 1", n, len(tokens))
	}
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatal("the callers got different tokens")
		}
	}
}

// certFiles writes the emulator's registered certificate as PEM, and
// returns the path.
func pemFile(t *testing.T, cert *x509.Certificate, key any) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), pkcs8(t, key)...)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientCertificate: the emulator's daemon-cert files, PEM and PFX,
// sign the app in; a certificate that is not registered is refused.
func TestClientCertificate(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, pemPath, pfxPath, password := srv.CertApp()
	stranger := issue(t, "stranger", rsaKey(t), nil)
	tests := []struct {
		name string
		src  auth.CertificateSource
		want auth.Kind
	}{
		{"PEM", auth.CertificateSource{Path: pemPath}, 0},
		{"PFX", auth.CertificateSource{Path: pfxPath, Password: password}, 0},
		{"PFX, password in a file", auth.CertificateSource{Path: pfxPath, PasswordFile: writeSecret(t, t.TempDir(), "pw", password, 0o600)}, 0},
		{"with its chain", auth.CertificateSource{Path: pemPath, SendChain: true}, 0},
		{"not registered", auth.CertificateSource{Path: pemFile(t, stranger.cert, stranger.key)}, auth.KindCertificateNotRegistered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := auth.NewClientCertificate(appConfig(srv, clientID), tt.src)
			if err != nil {
				t.Fatalf("NewClientCertificate: %v", err)
			}
			res, err := app.AccessToken(testCtx(t), "", false)
			if tt.want != 0 {
				if got, _ := kindOf(err); got != tt.want {
					t.Fatalf("AccessToken: %v, want kind %d", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("AccessToken: %v", err)
			}
			checkAppToken(t, srv, res, clientID, emulator.CertAppObjectID)
		})
	}
}

// TestRotatedCertificateIsReadAgain: a certificate file replaced while
// the credential lives is used for the next token, with no restart.
func TestRotatedCertificateIsReadAgain(t *testing.T) {
	oldCert := issue(t, "old", rsaKey(t), nil)
	newCert := issue(t, "new", rsaKey(t), nil)
	stranger := issue(t, "stranger", rsaKey(t), nil)
	app := emulator.App{Name: "rotating", ClientID: "0b1e6f2a-6d61-4073-9de7-00000000c001", Role: emulator.RoleDataContributor,
		Certificates: []*x509.Certificate{oldCert.cert, newCert.cert}}
	srv := emulatortest.Start(t, emulator.Options{Apps: []emulator.App{app}})
	path := pemFile(t, oldCert.cert, oldCert.key)
	cred, err := auth.NewClientCertificate(appConfig(srv, app.ClientID), auth.CertificateSource{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		cert *fixture
		want auth.Kind
	}{
		{oldCert, 0},
		{stranger, auth.KindCertificateNotRegistered}, // proves the file was read again
		{newCert, 0},
	}
	for i, step := range steps {
		data, err := os.ReadFile(pemFile(t, step.cert.cert, step.cert.key))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// A later modification time, as a rotation gives.
		later := time.Now().Add(time.Duration(i+1) * time.Second)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
		_, err = cred.AccessToken(testCtx(t), "", true)
		if got, _ := kindOf(err); step.want != 0 && got != step.want || step.want == 0 && err != nil {
			t.Fatalf("step %d (%s): %v, want kind %d", i, step.cert.cert.Subject.CommonName, err, step.want)
		}
	}
}

// TestUnsetClockHoldsTheAssertion: with the clock earlier than the build,
// no assertion is sent; the wait is said once and ends as KindClock.
func TestUnsetClockHoldsTheAssertion(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	clientID, pemPath, _, _ := srv.CertApp()
	var said []error
	cfg := appConfig(srv, clientID)
	cfg.BuiltAt = time.Now().Add(time.Hour)
	cfg.Timeout = 2 * time.Second
	cfg.Warn = func(err error) { said = append(said, err) }
	app, err := auth.NewClientCertificate(cfg, auth.CertificateSource{Path: pemPath})
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AccessToken(t.Context(), "", false)
	var ce *auth.ClockError
	if got, _ := kindOf(err); got != auth.KindClock || !errors.As(err, &ce) {
		t.Fatalf("AccessToken: %v, want KindClock", err)
	}
	if len(said) != 1 {
		t.Errorf("said %d times that it waits, want once", len(said))
	}
	if n := tokenRequests(srv); n != 0 {
		t.Errorf("%d token requests sent, want none", n)
	}
}

// TestWorkloadIdentity: the federated token file is read for every
// token: rewritten mid-run, the new one is used.
func TestWorkloadIdentity(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{})
	file := filepath.Join(t.TempDir(), "token")
	write := func(subject string, lifetime time.Duration) {
		t.Helper()
		tok, err := srv.SignFederatedToken(subject, lifetime)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(emulator.FederatedSubject, time.Hour)
	app, err := auth.NewWorkloadIdentity(appConfig(srv, srv.FederatedApp()), file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.AccessToken(testCtx(t), "", false)
	if err != nil {
		t.Fatalf("AccessToken: %v", err)
	}
	checkAppToken(t, srv, res, srv.FederatedApp(), emulator.FederatedAppObjectID)

	steps := []struct {
		name    string
		subject string
		life    time.Duration
		want    auth.Kind
	}{
		{"another subject", "system:serviceaccount:default:intruder", time.Hour, auth.KindFederationMismatch},
		{"expired", emulator.FederatedSubject, -10 * time.Minute, auth.KindClock},
		{"renewed", emulator.FederatedSubject, time.Hour, 0},
	}
	for _, s := range steps {
		write(s.subject, s.life)
		_, err := app.AccessToken(testCtx(t), "", true)
		if got, _ := kindOf(err); s.want != 0 && got != s.want || s.want == 0 && err != nil {
			t.Fatalf("%s: %v, want kind %d", s.name, err, s.want)
		}
	}
	t.Run("no token file", func(t *testing.T) {
		_, err := auth.NewWorkloadIdentity(appConfig(srv, srv.FederatedApp()), filepath.Join(t.TempDir(), "missing"))
		if got, _ := kindOf(err); got != auth.KindCredential {
			t.Fatalf("NewWorkloadIdentity: %v, want KindCredential", err)
		}
	})
}

// TestShortLivedAppTokenIsRenewed: a token is reused from memory while
// it has more than MSAL's 5 minutes left, and renewed after.
func TestShortLivedAppTokenIsRenewed(t *testing.T) {
	srv := emulatortest.Start(t, emulator.Options{AppTokenLifetime: 5*time.Minute + 2*time.Second})
	clientID, secret := srv.SecretApp()
	app, err := auth.NewClientSecret(appConfig(srv, clientID), auth.SecretSource{Value: secret})
	if err != nil {
		t.Fatal(err)
	}
	first, err := app.AccessToken(testCtx(t), "", false)
	if err != nil {
		t.Fatal(err)
	}
	second, err := app.AccessToken(testCtx(t), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !second.FromCache || second.AccessToken != first.AccessToken {
		t.Error("a token with over 5 minutes left was not reused")
	}
	time.Sleep(2500 * time.Millisecond)
	third, err := app.AccessToken(testCtx(t), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if third.FromCache || third.AccessToken == first.AccessToken || tokenRequests(srv) != 2 {
		t.Errorf("a token with under 5 minutes left was reused (from cache %v, %d requests)", third.FromCache, tokenRequests(srv))
	}
}
