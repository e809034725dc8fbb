package ui

import (
	"bytes"
	"strings"

	"github.com/mdp/qrterminal/v3"
	"rsc.io/qr"
)

// qrRendering is a QR code drawn with half blocks, one line per two module
// rows, as plain characters; the view colours it black on white.
type qrRendering struct {
	lines []string
	width int
}

// qrCandidates renders text from the roomiest QR code to the smallest:
// more error correction and a wider quiet zone first.
func qrCandidates(text string) []qrRendering {
	var out []qrRendering
	for _, c := range []struct {
		level qr.Level
		quiet int
	}{{qrterminal.M, 2}, {qrterminal.L, 2}, {qrterminal.L, 1}} {
		out = append(out, renderQR(text, c.level, c.quiet))
	}
	return out
}

func renderQR(text string, level qr.Level, quiet int) qrRendering {
	var buf bytes.Buffer
	// GenerateWithConfig only writes; Generate would query the terminal
	// (ESC[c) and fight Bubble Tea for its input.
	qrterminal.GenerateWithConfig(text, qrterminal.Config{
		Level:          level,
		Writer:         &buf,
		HalfBlocks:     true,
		BlackChar:      "█",
		WhiteChar:      " ",
		BlackWhiteChar: "▀",
		WhiteBlackChar: "▄",
		QuietZone:      quiet,
	})
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	// qrterminal closes an even quiet zone with a row of WhiteBlackChar,
	// meant for its own inverted colours; in black on white that row would
	// be a black bar, so it becomes quiet zone again.
	if last := lines[len(lines)-1]; strings.Trim(last, "▄") == "" {
		lines[len(lines)-1] = strings.Repeat(" ", len([]rune(last)))
	}
	width := 0
	for _, l := range lines {
		width = max(width, len([]rune(l)))
	}
	// Pad every line to the same width, so the white background is square.
	for i, l := range lines {
		lines[i] = l + strings.Repeat(" ", width-len([]rune(l)))
	}
	return qrRendering{lines: lines, width: width}
}
