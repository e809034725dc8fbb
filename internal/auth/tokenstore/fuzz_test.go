package tokenstore

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzSealedOpen decodes arbitrary sealed blobs: no panic, and anything
// not sealed with the key is ErrUnreadable, never data.
func FuzzSealedOpen(f *testing.F) {
	s := NewSealed(f.TempDir(), "default", nil)
	key := make([]byte, 32)
	rand.Read(key)
	good, _ := s.seal(key, []byte(`{"RefreshToken":{}}`))
	f.Add(good)
	f.Add(append([]byte(nil), sealedMagic...))
	f.Add([]byte("mapsdevice-sealed-v2\n0123456789ab"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		data, err := s.open(key, blob)
		if err != nil {
			if !errors.Is(err, ErrUnreadable) {
				t.Fatalf("error is not ErrUnreadable: %v", err)
			}
			return
		}
		if !bytes.Equal(blob, good) && !bytes.HasPrefix(blob, sealedMagic) {
			t.Fatalf("opened a blob without the magic: %q", data)
		}
	})
}

// FuzzReplace gives MSAL-shaped caches of any content to the file store's
// reader; it must report ErrUnreadable or succeed, never panic.
func FuzzReplace(f *testing.F) {
	f.Add([]byte(`{"AccessToken":{},"RefreshToken":{"k":{"secret":"x"}},"Account":{},"AppMetadata":{}}`))
	f.Add([]byte(`{`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		err := replaceWith(jsonUnmarshaler{}, data)
		if err != nil && !errors.Is(err, ErrUnreadable) {
			t.Fatalf("error is not ErrUnreadable: %v", err)
		}
	})
}

type jsonUnmarshaler struct{}

func (jsonUnmarshaler) Unmarshal(b []byte) error {
	var v map[string]any
	return json.Unmarshal(b, &v)
}
