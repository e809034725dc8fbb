package ui

// The keys the login screen answers to.
const (
	keyQuit   = "q"
	keyCancel = "ctrl+c"
	keyEscape = "esc"
	keyCopy   = "c"
	keyRenew  = "r"
)
