package ui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

const appTitle = "Sign in to mapsdevice"

// PhishingWarning is shown beside every code: device code phishing sends
// people codes that sign the attacker in.
const PhishingWarning = "Only continue if you started this sign-in on this device. If a website, a message or a person gave you this code, cancel."

// ScopeNames says the scopes asked for in words: "Azure Maps
// (user_impersonation)" for https://atlas.microsoft.com/user_impersonation;
// the OpenID scopes are left out.
func ScopeNames(scopes []string) string {
	known := map[string]string{"atlas.microsoft.com": "Azure Maps", "vault.azure.net": "Key Vault"}
	var names []string
	for _, sc := range scopes {
		rest, ok := strings.CutPrefix(sc, "https://")
		if !ok {
			if sc != "openid" && sc != "profile" && sc != "offline_access" && sc != "email" {
				names = append(names, sc)
			}
			continue
		}
		host, perm, _ := strings.Cut(rest, "/")
		if name, ok := known[host]; ok {
			host = name
		}
		names = append(names, fmt.Sprintf("%s (%s)", host, perm))
	}
	return strings.Join(names, ", ")
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// View draws the screen for the terminal's size.
func (m Model) View() tea.View {
	content := m.render()
	if !m.opts.Kiosk {
		// Inline, a frame that shrinks leaves the old one's top behind,
		// so every frame takes the whole window.
		if n := m.height - lipgloss.Height(content); n > 0 {
			content += strings.Repeat("\n", n)
		}
	}
	v := tea.NewView(content)
	v.AltScreen = m.opts.Kiosk
	v.WindowTitle = "mapsdevice: sign in"
	return v
}

func (m Model) render() string {
	w, h := m.width, m.height
	switch m.state {
	case StateWaiting:
		return m.waitingView(w, h)
	case StateSignedIn:
		return m.frameText(m.signedInView())
	case StateDeclined:
		return m.frameText(m.problemView("Sign-in declined", "The sign-in was declined on the other device."))
	case StateExpired:
		return m.frameText(m.problemView("Code expired", "The code expired before anyone approved it."))
	case StateError:
		return m.frameText(m.problemView("Sign-in failed", m.explain(m.err)))
	}
	return m.frameText(m.styles.text.Render(m.spin() + " Asking for a sign-in code..."))
}

func (m Model) explain(err error) string {
	if m.flow.Explain != nil {
		return m.flow.Explain(err)
	}
	return err.Error()
}

// frameText puts the title (and note) above a block.
func (m Model) frameText(body string) string {
	parts := []string{m.styles.title.Render(appTitle)}
	if m.opts.Note != "" {
		parts = append(parts, m.styles.dim.Render(m.opts.Note))
	}
	parts = append(parts, "", body)
	return lipgloss.NewStyle().MaxWidth(max(m.width, 20)).Render(strings.Join(parts, "\n"))
}

func (m Model) spin() string { return spinner[m.frame%len(spinner)] }

func (m Model) signedInView() string {
	s := m.styles
	who := m.result.Account.Username
	if m.result.Account.Name != "" {
		who = m.result.Account.Name + " (" + who + ")"
	}
	lines := []string{
		s.success.Render("✓ Signed in"),
		"",
		"Account: " + s.code.Render(who),
		"Tenant:  " + m.result.Account.TenantID,
	}
	if m.opts.Kiosk {
		lines = append(lines, "", "This device is ready.")
	}
	return strings.Join(lines, "\n")
}

func (m Model) problemView(title, detail string) string {
	s := m.styles
	lines := []string{s.problem.Render("✗ " + title), "", lipgloss.NewStyle().Width(min(max(m.width-2, 20), 76)).Render(detail), ""}
	switch {
	case m.renewed < m.opts.Renew:
		lines = append(lines, s.dim.Render("A new code is on its way..."))
	case m.opts.Kiosk:
		lines = append(lines, s.hint.Render("ctrl+c cancel"))
	default:
		lines = append(lines, s.hint.Render("r new code · q quit"))
	}
	return strings.Join(lines, "\n")
}

// waitingView lays out the code, the address, the QR code and the
// countdown, trying the biggest arrangement that fits first. A QR code is
// drawn whole or not at all.
func (m Model) waitingView(w, h int) string {
	for _, scale := range []int{2, 1, 0} {
		if scale > 0 && bigWidth(m.code.UserCode, scale) > w {
			continue
		}
		for _, q := range m.qrs {
			if out, ok := m.fit(w, h, scale, &q); ok {
				return out
			}
		}
	}
	for _, scale := range []int{2, 1, 0} {
		if scale > 0 && bigWidth(m.code.UserCode, scale) > w {
			continue
		}
		if out, ok := m.fit(w, h, scale, nil); ok {
			return out
		}
	}
	return m.compact(w, h)
}

// compact is the last resort for tiny terminals: the essentials, one per
// line, cut to the screen.
func (m Model) compact(w, h int) string {
	s := m.styles
	lines := []string{
		s.title.Render(appTitle),
		"Open " + s.url.Render(m.code.VerificationURL),
		"Code: " + s.code.Render(m.code.UserCode),
		"Expires in " + countdown(m.code.ExpiresAt.Sub(m.now)) + " " + m.spin(),
		s.problem.Render("Cancel if someone else gave you this code."),
		s.hint.Render("Enlarge the window to see a QR code."),
	}
	return lipgloss.NewStyle().MaxWidth(w).MaxHeight(h).Render(strings.Join(lines, "\n"))
}

// fit tries two arrangements at one size of code and QR: code and text
// beside the QR code, then the code on top with the text beside the QR.
func (m Model) fit(w, h, scale int, q *qrRendering) (string, bool) {
	header := m.header()
	code := m.codeBlock(scale)
	if q == nil {
		info := m.info(false, w)
		hint := m.styles.dim.Render("Enlarge the window to see a QR code.")
		out := joinV(header, "", code, "", info, "", hint)
		return out, lipgloss.Height(out) <= h && lipgloss.Width(out) <= w
	}
	qr := m.qrBlock(*q)
	gap := 3
	side := w - q.width - gap
	if side >= 30 {
		info := m.info(true, side)
		beside := joinV(code, "", info)
		if lipgloss.Width(code) <= side {
			out := joinV(header, "", lipgloss.JoinHorizontal(lipgloss.Top, qr, strings.Repeat(" ", gap), beside))
			if lipgloss.Height(out) <= h && lipgloss.Width(out) <= w {
				return out, true
			}
		}
		out := joinV(header, "", code, "", lipgloss.JoinHorizontal(lipgloss.Top, qr, strings.Repeat(" ", gap), info))
		if lipgloss.Height(out) <= h && lipgloss.Width(out) <= w {
			return out, true
		}
	}
	return "", false
}

func joinV(parts ...string) string { return strings.Join(parts, "\n") }

func (m Model) header() string {
	title := m.styles.title.Render(appTitle)
	if m.opts.Note != "" {
		return title + "\n" + m.styles.dim.Render(m.opts.Note)
	}
	return title
}

func (m Model) codeBlock(scale int) string {
	if scale > 0 {
		if big := bigText(m.code.UserCode, scale); big != "" {
			return m.styles.code.Render(big)
		}
	}
	return "Code: " + m.styles.code.Render(strings.Join(strings.Split(m.code.UserCode, ""), " "))
}

func (m Model) qrBlock(q qrRendering) string {
	lines := make([]string, len(q.lines))
	for i, l := range q.lines {
		lines[i] = m.styles.qr.Render(l)
	}
	return strings.Join(lines, "\n")
}

// info is the text beside or under the code: where to go, the countdown,
// progress and the keys.
func (m Model) info(withQR bool, width int) string {
	s := m.styles
	var lines []string
	if withQR {
		lines = append(lines, "Scan the QR code with a phone, or open")
	} else {
		lines = append(lines, "On a phone or computer, open")
	}
	lines = append(lines, s.url.Render(m.code.VerificationURL))
	// The code in plain text too, for copying by hand and screen readers.
	lines = append(lines, "and enter the code "+s.code.Render(m.code.UserCode))
	if m.code.VerificationURLComplete != "" && withQR {
		lines = append(lines, "The QR code already holds the code:", "no typing needed.")
	}
	lines = append(lines, "")
	lines = append(lines, m.subject()...)
	lines = append(lines, s.problem.Render(PhishingWarning))
	lines = append(lines, "", "Expires in "+s.code.Render(countdown(m.code.ExpiresAt.Sub(m.now))),
		m.spin()+" Waiting for approval")
	if m.flash != "" {
		lines = append(lines, s.success.Render(m.flash))
	}
	lines = append(lines, "")
	if m.opts.Kiosk {
		lines = append(lines, s.hint.Render("ctrl+c cancel"))
	} else {
		lines = append(lines, s.hint.Render("c copy code · q cancel"))
	}
	return lipgloss.NewStyle().Width(width).Render(strings.Join(lines, "\n"))
}

// subject is what the code signs in to, then a blank line; nothing when
// the caller did not say.
func (m Model) subject() []string {
	var lines []string
	if m.opts.App != "" {
		lines = append(lines, "App:    "+m.styles.code.Render(m.opts.App))
	}
	if m.opts.Tenant != "" {
		lines = append(lines, "Tenant: "+m.opts.Tenant)
	}
	if names := ScopeNames(m.opts.Scopes); names != "" {
		lines = append(lines, "Access: "+names)
	}
	if len(lines) > 0 {
		lines = append(lines, "")
	}
	return lines
}

func countdown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
