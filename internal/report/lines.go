package report

import (
	"bufio"
	"io"
)

// lineReader splits input into lines, keeping at most MaxLine+1 bytes of
// any line (the length is still counted), and knows the offset after the
// last complete line, which is what a checkpoint may hold.
type lineReader struct {
	br      *bufio.Reader
	off     int64 // after the last byte read
	lineEnd int64 // after the last complete line
	part    []byte
	partLen int
}

func newLineReader(r io.Reader, off int64) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), off: off, lineEnd: off}
}

// next returns the next complete line without its newline, and its whole
// length. At the end of what is there now it returns io.EOF and keeps a
// line begun but not ended, for a later call when more has been written.
func (l *lineReader) next() (line []byte, n int, err error) {
	for {
		slice, err := l.br.ReadSlice('\n')
		l.off += int64(len(slice))
		l.partLen += len(slice)
		if room := MaxLine + 2 - len(l.part); room > 0 {
			l.part = append(l.part, slice[:min(room, len(slice))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		line, n = l.part, l.partLen-1
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		l.part, l.partLen, l.lineEnd = nil, 0, l.off
		return line, n, nil
	}
}

// rest takes a line begun but never ended, at the end of a file that will
// not grow.
func (l *lineReader) rest() (line []byte, n int) {
	line, n = l.part, l.partLen
	l.part, l.partLen, l.lineEnd = nil, 0, l.off
	return line, n
}

func (l *lineReader) buffered() int { return l.br.Buffered() }
