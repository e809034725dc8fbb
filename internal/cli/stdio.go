package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Stdio is where a command reads and writes, and which of the three are
// terminals. OSStdio finds that out once; tests say it.
type Stdio struct {
	In  io.Reader
	Out io.Writer // results, for people or programs
	Err io.Writer // prompts, progress and errors

	InTerminal  bool
	OutTerminal bool
	ErrTerminal bool

	// secrets are kept out of errors and logs; Main sets it.
	secrets *redactor
}

// logs is stderr for log lines, with secrets redacted.
func (s Stdio) logs() io.Writer { return redactingWriter{w: s.Err, r: s.secrets} }

// OSStdio is the process's standard input, output and error. A terminal
// with TERM=dumb counts as none: it cannot draw a screen or move the
// cursor.
func OSStdio() Stdio {
	dumb := os.Getenv("TERM") == "dumb"
	isTerminal := func(f *os.File) bool { return !dumb && term.IsTerminal(int(f.Fd())) }
	return Stdio{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTerminal:  isTerminal(os.Stdin),
		OutTerminal: isTerminal(os.Stdout),
		ErrTerminal: isTerminal(os.Stderr),
	}
}

// interactive is true when keys can be read and a screen drawn (on
// stderr, which keeps stdout for results).
func (s Stdio) interactive() bool { return s.InTerminal && s.ErrTerminal }
