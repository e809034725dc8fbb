package ui

import "charm.land/lipgloss/v2"

// styles are the screen's looks, kept in one place.
type styles struct {
	title   lipgloss.Style
	text    lipgloss.Style
	dim     lipgloss.Style
	url     lipgloss.Style
	code    lipgloss.Style
	qr      lipgloss.Style
	success lipgloss.Style
	problem lipgloss.Style
	hint    lipgloss.Style
}

func newStyles() styles {
	return styles{
		title:   lipgloss.NewStyle().Bold(true),
		text:    lipgloss.NewStyle(),
		dim:     lipgloss.NewStyle().Faint(true),
		url:     lipgloss.NewStyle().Bold(true).Underline(true),
		code:    lipgloss.NewStyle().Bold(true),
		success: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2")),
		problem: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
		hint:    lipgloss.NewStyle().Faint(true),
		// Explicit black on white, so the code scans on dark and light
		// terminals alike.
		qr: lipgloss.NewStyle().Foreground(lipgloss.Color("#000000")).Background(lipgloss.Color("#ffffff")),
	}
}
