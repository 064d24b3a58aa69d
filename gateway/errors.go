package gateway

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by Config.Validate (and New).
	ErrInvalidConfig = errors.New("gateway: invalid config")
	// ErrStarted is returned by Start on a gateway started before.
	ErrStarted = errors.New("gateway: already started")
)

// Errors answered on the wire only; replyError gives them their codes.
var (
	// errSyntax marks a malformed or unsupported command (code ERR).
	errSyntax = errors.New("gateway: syntax error")
	// errShuttingDown answers commands read once Shutdown began (CLOSED).
	errShuttingDown = errors.New("gateway: shutting down")
)
