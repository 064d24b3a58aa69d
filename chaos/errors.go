package chaos

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrClosed is returned by a Proxy that was shut down.
	ErrClosed = errors.New("chaos: proxy closed")
	// ErrInvalidArgument is returned for a bad fault, proxy setting or
	// verification request; nothing was changed.
	ErrInvalidArgument = errors.New("chaos: invalid argument")
	// ErrBadReply is returned when a store or a proxy answers something
	// that cannot be read.
	ErrBadReply = errors.New("chaos: unexpected reply")
	// ErrNoKeyspace is returned by Verify when a DC's topology does not
	// know the keyspace.
	ErrNoKeyspace = errors.New("chaos: keyspace not in the topology")
)
