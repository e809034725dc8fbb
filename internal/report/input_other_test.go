//go:build !unix

package report

import (
	"io"
	"testing"
)

// addPlatformInputs adds nothing here: a FIFO and a pipe in blocking mode
// are tested where they exist.
func addPlatformInputs(map[string]func(t *testing.T) (io.ReadCloser, io.Closer)) {}
