package server

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by Config.Validate (and New).
	ErrInvalidConfig = errors.New("server: invalid config")
	// ErrStarted is returned by Start on a server started before.
	ErrStarted = errors.New("server: already started")
)

// Errors answered on the wire only; wireError gives them their codes.
var (
	// errSyntax marks a malformed command (code ERR).
	errSyntax = errors.New("server: syntax error")
	// errOwnerBehind is returned by VFENCE while the shard has not switched
	// to the owner version asked for (code BEHIND).
	errOwnerBehind = errors.New("server: shard has not switched to the owner version yet")
	// errNotAcknowledged: a write's acknowledgement level was not reached
	// in time (code NOACK; the write stands).
	errNotAcknowledged = errors.New("server: acknowledgement level not reached")
)
