package replica

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by AgentConfig.Validate and NewAgent.
	ErrInvalidConfig = errors.New("replica: invalid config")
	// ErrStarted is returned by a second Agent.Start.
	ErrStarted = errors.New("replica: agent already started")
)
