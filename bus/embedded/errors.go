package embedded

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by Config.Validate and New.
	ErrInvalidConfig = errors.New("bus: embedded: invalid config")
	// ErrNotReady is returned by Start when the server did not become ready
	// for connections in time, or failed while starting.
	ErrNotReady = errors.New("bus: embedded: server not ready")
	// ErrClosed is returned by Start after Shutdown, or when Start is called
	// twice.
	ErrClosed = errors.New("bus: embedded: server closed or already started")
)
