package auth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// ErrNoSecret means no client secret was given anywhere.
var ErrNoSecret = errors.New("no client secret is set")

// ErrSecretLooksLikeID is said of a secret shaped like a GUID: that is
// what a secret's id looks like, which is easily pasted instead of its
// value (and then refused with AADSTS7000215).
var ErrSecretLooksLikeID = errors.New("the client secret looks like a GUID, the shape of a secret's id rather than its value")

// ReadableError warns that a file holding a secret can be read by other
// users than its owner.
type ReadableError struct {
	Path string
	Mode fs.FileMode
}

func (e *ReadableError) Error() string {
	return fmt.Sprintf("%s can be read by other users (mode %04o)", e.Path, e.Mode.Perm())
}

// SecretSource is where a client secret comes from; the first that is
// set wins. Secrets are never taken from the command line.
type SecretSource struct {
	// File is a path, or "-" for the first line of Stdin (the rest is
	// left for the command: readings, positions). A file is read again when it
	// changes, so a rotated secret needs no restart.
	File  string
	Stdin io.Reader
	// Value is the secret itself, from the environment.
	Value string
	// CredentialsDir is systemd's $CREDENTIALS_DIRECTORY, which holds
	// client-secret when the unit says LoadCredential=client-secret:….
	CredentialsDir string
}

// CredentialsFile is the name of the secret in CredentialsDir.
const CredentialsFile = "client-secret"

// secretReader hands MSAL the secret, telling when a file's has changed.
type secretReader struct {
	path  string // "" when the secret came from stdin or the environment
	value string
	warn  func(error)

	mu   sync.Mutex
	file fileStamp
}

func newSecretReader(src SecretSource, warn func(error)) (*secretReader, error) {
	r := &secretReader{warn: warn}
	switch {
	case src.File == "-":
		if src.Stdin == nil {
			return nil, credentialError("the client secret", errors.New("standard input is not available"))
		}
		line, err := firstLineOf(src.Stdin)
		if err != nil {
			return nil, credentialError("the client secret from standard input", err)
		}
		r.value = strings.TrimSpace(line)
	case src.File != "":
		r.path = src.File
	case src.Value != "":
		r.value = strings.TrimSpace(src.Value)
	case src.CredentialsDir != "":
		r.path = filepath.Join(src.CredentialsDir, CredentialsFile)
	default:
		return nil, &Error{Kind: KindCredential, Reason: ErrNoSecret.Error(), Err: ErrNoSecret}
	}
	if r.path == "" {
		if r.value == "" {
			return nil, credentialError("the client secret", errors.New("it is empty"))
		}
		r.check(r.value)
		return r, nil
	}
	if _, _, err := r.current(); err != nil {
		return nil, err
	}
	return r, nil
}

// current is the secret, and whether it changed since the last call.
func (r *secretReader) current() (string, bool, error) {
	if r.path == "" {
		return r.value, false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := stampOf(r.path)
	if err != nil {
		return "", false, credentialError("the client secret file", err)
	}
	if r.value != "" && stamp == r.file {
		return r.value, false, nil
	}
	v, err := readSecretFile(r.path, r.warn)
	if err != nil {
		return "", false, credentialError("the client secret file", err)
	}
	changed := r.value != "" && v != r.value
	r.value, r.file = v, stamp
	r.check(v)
	return v, changed, nil
}

var guidShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (r *secretReader) check(v string) {
	if guidShape.MatchString(v) && r.warn != nil {
		r.warn(ErrSecretLooksLikeID)
	}
}

func (r *secretReader) credential() (confidential.Credential, error) {
	v, _, err := r.current()
	if err != nil {
		return confidential.Credential{}, err
	}
	return confidential.NewCredFromSecret(v)
}

// readSecretFile reads a one-line secret, warning when others may read
// the file too.
func readSecretFile(path string, warn func(error)) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a folder, not a file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 && warn != nil {
		warn(&ReadableError{Path: path, Mode: st.Mode().Perm()})
	}
	return v, nil
}

// fileStamp tells when a file was replaced or rewritten.
type fileStamp struct {
	mod  time.Time
	size int64
	perm fs.FileMode
}

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	if st.IsDir() {
		return fileStamp{}, fmt.Errorf("%s is a folder, not a file", path)
	}
	perm := st.Mode().Perm()
	if runtime.GOOS == "windows" {
		perm = 0o600 // modes say nothing there
	}
	return fileStamp{mod: st.ModTime(), size: st.Size(), perm: perm}, nil
}

// credentialError is a credential that could not be loaded.
func credentialError(what string, err error) error {
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return &Error{Kind: KindCredential, Reason: what + ": " + firstLine(err.Error()), Err: err}
}

// firstLineOf reads one line, a byte at a time so that nothing after it
// is taken from a command's own input on the same stream.
func firstLineOf(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 64<<10 {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return string(line), nil
			}
			line = append(line, b[0])
		}
		if errors.Is(err, io.EOF) {
			return string(line), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("the first line is over 64 KB")
}
