package tokenstore

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// File keeps the cache as plain JSON in a 0600 file: the refresh token is
// readable by anyone who can read that file.
type File struct {
	fileLock
	path string
}

var _ cache.ExportReplace = (*File)(nil)

// NewFile returns a plain file store in dir for a profile.
func NewFile(dir, profile string) *File {
	return &File{
		fileLock: fileLock{path: filepath.Join(dir, profile+".lock")},
		path:     filepath.Join(dir, profile+".json"),
	}
}

// Kind is KindFile.
func (f *File) Kind() string { return KindFile }

// Location is the file's path.
func (f *File) Location() string { return "plain file " + f.path + " (mode 0600)" }

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Replace loads the cache.
func (f *File) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	data, err := readFile(f.path)
	if err != nil {
		return err
	}
	return replaceWith(u, data)
}

// Export writes the cache.
func (f *File) Export(_ context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("encode token cache: %w", err)
	}
	return f.Write(data)
}

// Write stores an already encoded cache.
func (f *File) Write(data []byte) error { return writeAtomic(f.path, data) }

// Clear removes the file.
func (f *File) Clear(context.Context) error { return removeFile(f.path) }

// Exists reports whether a cache file is there.
func (f *File) Exists() bool {
	data, err := readFile(f.path)
	return err != nil || data != nil
}
