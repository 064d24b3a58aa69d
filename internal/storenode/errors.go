package storenode

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by Config.Validate and New.
	ErrInvalidConfig = errors.New("storenode: invalid config")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("storenode: already started")
	// ErrStopped is returned by Start after Shutdown.
	ErrStopped = errors.New("storenode: shut down")
)

// ErrInvalidFault is returned for a fault the store cannot inject (a
// negative pause, a cross-DC pause on a store with no remote DC).
var ErrInvalidFault = errors.New("storenode: invalid fault")
