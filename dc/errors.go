package dc

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by Config.Validate and New.
	ErrInvalidConfig = errors.New("dc: invalid config")
	// ErrStarted is returned by a second Replicator.Start.
	ErrStarted = errors.New("dc: replicator already started")
)
