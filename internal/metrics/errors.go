package metrics

import "errors"

var (
	// ErrInvalidConfig reports a bad configuration.
	ErrInvalidConfig = errors.New("metrics: invalid config")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("metrics: already started")
	// ErrStopped is returned by Start after Shutdown.
	ErrStopped = errors.New("metrics: stopped")
)
