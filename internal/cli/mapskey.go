package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mapsdevice/mapsdevice/internal/azmaps"
	"github.com/mapsdevice/mapsdevice/internal/keyvault"
)

// A shared key is a password to the whole Maps account, so it is held in
// memory only, never logged, and read again when Maps refuses it (it was
// rotated) and every --maps-key-refresh, jittered so that a fleet does
// not read at once.

// vaultKey is the Maps key kept in a Key Vault secret.
type vaultKey struct {
	vault   *keyvault.Client
	secret  keyvault.SecretURL
	refresh time.Duration
	seen    func(string) // told every value, to keep it out of output

	mu    sync.Mutex
	value string
	next  time.Time
}

func (k *vaultKey) Key(ctx context.Context, refused string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	refresh := refused != "" && refused == k.value // else another request read it already
	if k.value != "" && !refresh && time.Now().Before(k.next) {
		return k.value, nil
	}
	s, err := k.vault.Get(ctx, k.secret)
	if err != nil {
		if k.value != "" && !refresh {
			// A scheduled read failed: the key in hand still works.
			k.next = nextRead(time.Minute)
			return k.value, nil
		}
		return "", err
	}
	k.seen(s.Value)
	k.value, k.next = s.Value, nextRead(k.refresh)
	return k.value, nil
}

// fileKey is the Maps key kept in a file (--maps-key-file).
type fileKey struct {
	path    string
	refresh time.Duration
	seen    func(string)

	mu    sync.Mutex
	value string
	next  time.Time
}

func newFileKey(ctx context.Context, path string, refresh time.Duration, stdio Stdio) (*fileKey, error) {
	k := &fileKey{path: path, refresh: refresh, seen: stdio.secrets.add}
	if err := notAFolder("--maps-key-file", path); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 && !isWindows() {
		fmt.Fprintf(stdio.Err, "Warning: %s can be read by other users (mode %04o). It holds a secret: make it readable by its owner only (chmod 600 %s).\n", path, st.Mode().Perm(), path)
	}
	if _, err := k.Key(ctx, ""); err != nil {
		return nil, usageError{err}
	}
	return k, nil
}

func (k *fileKey) Key(_ context.Context, refused string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	refresh := refused != "" && refused == k.value
	if k.value != "" && !refresh && time.Now().Before(k.next) {
		return k.value, nil
	}
	f, err := os.Open(k.path)
	if err != nil {
		return "", fmt.Errorf("--maps-key-file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<10))
	if err != nil {
		return "", fmt.Errorf("--maps-key-file: %w", err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("--maps-key-file %s is empty", k.path)
	}
	k.seen(v)
	k.value, k.next = v, nextRead(k.refresh)
	return v, nil
}

func isWindows() bool { return runtime.GOOS == "windows" }

// nextRead is when to read a key again: d from now, less up to a tenth.
func nextRead(d time.Duration) time.Time {
	return time.Now().Add(d - time.Duration(rand.Int64N(int64(d/10)+1)))
}

// redactor keeps secrets out of what this process says: every
// subscription-key in a URL, and the value of every key it has read.
// Main makes one per run.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

func (r *redactor) add(s string) {
	if r == nil || len(s) < 8 {
		return // too short to be a key, and replacing it would garble text
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.secrets {
		if have == s {
			return
		}
	}
	r.secrets = append(r.secrets, s)
}

func (r *redactor) redact(s string) string {
	s = azmaps.Redact(s)
	if r == nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "REDACTED")
	}
	return s
}

// redactingWriter redacts each write, as slog's one line per record.
type redactingWriter struct {
	w io.Writer
	r *redactor
}

func (w redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.r.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
