package geofence

import (
	"bytes"
	"fmt"
	"io"
	"slices"
)

// input is the reader under the decoder. It reads in large chunks,
// refuses to read past MaxUploadSize, so that a larger input is refused
// without being read whole, and keeps a window of the last bytes read, so
// that a syntax error found at a byte offset can be given as a line and
// column, which is how an editor goes to it.
type input struct {
	r   io.Reader
	err error // the first read error other than io.EOF, or ErrTooLarge
	eof bool
	// buf holds the input from offset at; buf[next:] is not passed on yet.
	buf  []byte
	next int
	at   int64
	// lines counts the newlines before at; lineStart is the offset just
	// after the last of them.
	lines     int
	lineStart int64
}

// inputChunk is the most read at once; the window keeps at least the
// chunk before the last, once the input is that large.
const inputChunk = 256 << 10

func (in *input) Read(p []byte) (int, error) {
	if in.next == len(in.buf) {
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.buf[in.next:])
	in.next += n
	return n, nil
}

// fill reads the next chunk, dropping all but the last chunk before it.
func (in *input) fill() error {
	switch {
	case in.err != nil:
		return in.err
	case in.eof:
		return io.EOF
	}
	if drop := len(in.buf) - inputChunk; drop > 0 {
		gone := in.buf[:drop]
		if n := bytes.Count(gone, []byte{'\n'}); n > 0 {
			in.lines += n
			in.lineStart = in.at + int64(bytes.LastIndexByte(gone, '\n')) + 1
		}
		in.at += int64(drop)
		in.next -= drop
		in.buf = in.buf[:copy(in.buf, in.buf[drop:])]
	}
	if len(in.buf) == cap(in.buf) {
		// The buffer starts small, for a small input, and doubles up
		// to two chunks.
		in.buf = slices.Grow(in.buf, max(4<<10, len(in.buf)))
	}
	room := in.buf[len(in.buf):cap(in.buf)]
	// One byte past the limit is enough to know the input is too large.
	if left := MaxUploadSize + 1 - (in.at + int64(len(in.buf))); left < int64(len(room)) {
		room = room[:left]
	}
	for {
		n, err := in.r.Read(room)
		in.buf = in.buf[:len(in.buf)+n]
		switch {
		case in.at+int64(len(in.buf)) > MaxUploadSize:
			in.err = ErrTooLarge
			return in.err
		case n > 0:
			return nil
		case err == io.EOF:
			in.eof = true
			return err
		case err != nil:
			in.err = err
			return err
		}
	}
}

// position says where offset off is, as a line and column (counted in
// bytes, from 1), or as a byte offset when it is no longer in the window.
func (in *input) position(off int64) string {
	if off < in.at || off > in.at+int64(len(in.buf)) {
		return fmt.Sprintf("byte %d", off+1)
	}
	before := in.buf[:off-in.at]
	line, start := in.lines+1, in.lineStart
	if n := bytes.Count(before, []byte{'\n'}); n > 0 {
		line += n
		start = in.at + int64(bytes.LastIndexByte(before, '\n')) + 1
	}
	return fmt.Sprintf("line %d, column %d", line, off-start+1)
}
