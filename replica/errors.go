package replica

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrInvalidConfig is returned by AgentConfig.Validate and NewAgent.
	ErrInvalidConfig = errors.New("replica: invalid config")
	// ErrStarted is returned by a second Agent.Start.
	ErrStarted = errors.New("replica: agent already started")
	// ErrNotReplicated is returned by WaitReplicas when fewer other
	// replicas of the shard than asked applied the write in time, or the
	// shard has fewer.
	ErrNotReplicated = errors.New("replica: write not applied by another replica")
)
