package drill

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrUnknownDrill is returned for a drill name not in the catalogue.
	ErrUnknownDrill = errors.New("drill: unknown drill")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("drill: invalid config")
	// ErrProcess is returned when a process of the deployment cannot be
	// started or does not become ready.
	ErrProcess = errors.New("drill: process")
	// ErrNotConverged is returned (wrapped in the result, not by Run) when
	// the DCs did not reach the same state before the convergence timeout.
	ErrNotConverged = errors.New("drill: replicas did not converge")
	// ErrUnsupported is returned when a fault cannot be injected on this
	// platform or binary (the drill reports it as skipped).
	ErrUnsupported = errors.New("drill: fault not supported here")
)
