//go:build !unix

package report

import (
	"io"
)

// Interruptible makes r an input for Run. Here a file is returned as it is:
// closing it does not end a read from a console or pipe in progress, so
// Run returns only once that read does (the next line or the end of input).
func Interruptible(r io.Reader) (io.ReadCloser, error) {
	if rc, ok := r.(io.ReadCloser); ok {
		return rc, nil
	}
	return io.NopCloser(r), nil
}

// oNoFollow is 0 here: there is no O_NOFOLLOW, and the dead-letter file
// is checked after opening.
const oNoFollow = 0
