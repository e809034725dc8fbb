// Package ui is the terminal login screen: a Bubble Tea model that shows a
// device code as big letters and a QR code, counts down to its expiry, and
// turns into the signed-in, declined, expired or error screen. All I/O runs
// in tea.Cmds through Flow.
package ui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mapsdevice/mapsdevice/internal/auth"
)

// Flow is the sign-in the screen drives.
type Flow struct {
	Start func(ctx context.Context) (*auth.DeviceCode, error)
	Wait  func(ctx context.Context, dc *auth.DeviceCode) (auth.Result, error)
	// Explain turns an error into what a person should read and do.
	Explain func(error) string
}

// Options shape the screen.
type Options struct {
	// Kiosk fills the screen, shows only the cancel hint and renews codes
	// without a key press.
	Kiosk bool
	// Renew is how many times an expired (or declined, or failed) code is
	// replaced by a new one without a key press.
	Renew int
	// Note is an extra line under the title, such as the demo's.
	Note string
	// App, Tenant and Scopes say what the code signs in to: the app's
	// display name, the tenant and the permissions asked for.
	App    string
	Tenant string
	Scopes []string
	// Now is the clock; tests pin it.
	Now func() time.Time
}

// State is which screen is showing.
type State int

// The screens.
const (
	StateStarting State = iota
	StateWaiting
	StateSignedIn
	StateDeclined
	StateExpired
	StateError
)

// Delays of the screen's own actions.
const (
	tickEvery       = time.Second
	retryAfterError = 5 * time.Second
	kioskShowResult = 3 * time.Second
	flashFor        = 2 * time.Second
)

// Model is the login screen.
type Model struct {
	ctx    context.Context
	flow   Flow
	opts   Options
	styles styles

	state     State
	gen       int // which device code the messages belong to
	renewed   int
	code      *auth.DeviceCode
	qrs       []qrRendering
	result    auth.Result
	err       error
	cancelled bool
	flash     string
	flashID   int

	width, height int
	now           time.Time
	frame         int
}

type (
	codeMsg struct {
		gen  int
		code *auth.DeviceCode
		err  error
	}
	resultMsg struct {
		gen int
		res auth.Result
		err error
	}
	tickMsg       time.Time
	renewMsg      struct{ gen int }
	clearFlashMsg struct{ id int }
)

// New returns the screen; it asks for a code when the program starts.
func New(ctx context.Context, flow Flow, opts Options) Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return Model{ctx: ctx, flow: flow, opts: opts, styles: newStyles(), now: opts.Now(), width: 80, height: 24}
}

// State is the screen showing now.
func (m Model) State() State { return m.state }

// Outcome is how the sign-in ended: the result, or the error that ended it
// (context.Canceled when the person cancelled).
func (m Model) Outcome() (auth.Result, error) {
	switch {
	case m.cancelled:
		return auth.Result{}, context.Canceled
	case m.state == StateSignedIn:
		return m.result, nil
	case m.err != nil:
		return auth.Result{}, m.err
	}
	return auth.Result{}, context.Canceled
}

// Init asks for the first code.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.start(), m.tick())
}

func (m Model) start() tea.Cmd {
	ctx, start, gen := m.ctx, m.flow.Start, m.gen
	return func() tea.Msg {
		dc, err := start(ctx)
		return codeMsg{gen: gen, code: dc, err: err}
	}
}

func (m Model) wait() tea.Cmd {
	ctx, wait, gen, dc := m.ctx, m.flow.Wait, m.gen, m.code
	return func() tea.Msg {
		res, err := wait(ctx, dc)
		return resultMsg{gen: gen, res: res, err: err}
	}
}

func (m Model) tick() tea.Cmd {
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update handles keys, window sizes and the sign-in's progress.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		return m.key(msg.String())
	case codeMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			return m.failed(msg.err)
		}
		m.state, m.code = StateWaiting, msg.code
		m.qrs = qrCandidates(m.qrText())
		return m, m.wait()
	case resultMsg:
		if msg.gen != m.gen || m.cancelled {
			return m, nil
		}
		if msg.err != nil {
			return m.failed(msg.err)
		}
		m.state, m.result = StateSignedIn, msg.res
		if m.opts.Kiosk {
			return m, tea.Tick(kioskShowResult, func(time.Time) tea.Msg { return tea.QuitMsg{} })
		}
		return m, tea.Quit
	case tickMsg:
		m.now = time.Time(msg)
		m.frame++
		if m.state == StateStarting || m.state == StateWaiting {
			return m, m.tick()
		}
	case renewMsg:
		if msg.gen == m.gen {
			return m.renew()
		}
	case clearFlashMsg:
		if msg.id == m.flashID {
			m.flash = ""
		}
	}
	return m, nil
}

func (m Model) key(k string) (tea.Model, tea.Cmd) {
	switch k {
	case keyCancel, keyQuit, keyEscape:
		if m.state == StateStarting || m.state == StateWaiting {
			m.cancelled = true
		}
		return m, tea.Quit
	case keyCopy:
		if m.state == StateWaiting && !m.opts.Kiosk {
			m.flashID++
			m.flash = "Code copied to the clipboard."
			id := m.flashID
			// OSC 52 goes through the terminal, so it works over SSH.
			return m, tea.Batch(tea.SetClipboard(m.code.UserCode),
				tea.Tick(flashFor, func(time.Time) tea.Msg { return clearFlashMsg{id: id} }))
		}
	case keyRenew:
		if m.state == StateExpired || m.state == StateDeclined || m.state == StateError {
			return m.renew()
		}
	}
	return m, nil
}

// failed shows what went wrong and, while renewals remain, schedules a new
// code.
func (m Model) failed(err error) (tea.Model, tea.Cmd) {
	if errors.Is(err, context.Canceled) {
		m.cancelled = true
		return m, tea.Quit
	}
	m.err = err
	m.state = StateError
	delay := retryAfterError
	var ae *auth.Error
	if errors.As(err, &ae) {
		switch ae.Kind {
		case auth.KindCodeExpired:
			m.state, delay = StateExpired, 0
		case auth.KindDeclined:
			m.state = StateDeclined
		}
	}
	if m.renewed >= m.opts.Renew {
		return m, nil
	}
	gen := m.gen
	if delay == 0 {
		return m.renew()
	}
	return m, tea.Tick(delay, func(time.Time) tea.Msg { return renewMsg{gen: gen} })
}

func (m Model) renew() (tea.Model, tea.Cmd) {
	m.gen++
	m.renewed++
	m.state, m.code, m.qrs, m.err, m.flash = StateStarting, nil, nil, nil, ""
	return m, tea.Batch(m.start(), m.tick())
}

// qrText is what the QR code carries: the address with the code in it where
// the provider gives one, else the plain verification address.
func (m Model) qrText() string {
	if m.code.VerificationURLComplete != "" {
		return m.code.VerificationURLComplete
	}
	return m.code.VerificationURL
}
