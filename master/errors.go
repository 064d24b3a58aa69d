package master

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail. Where package topology already has a sentinel (topology.ErrBadName,
// topology.ErrUnknownKeyspace, topology.ErrNotEnoughStores), the master
// returns that one instead of redefining it.
var (
	// ErrInvalidConfig is returned by Config.Validate and New.
	ErrInvalidConfig = errors.New("master: invalid config")
	// ErrKeyspaceExists is returned when creating a keyspace whose name is
	// taken.
	ErrKeyspaceExists = errors.New("master: keyspace exists")
	// ErrInvalidRequest is returned for a shard or replica count out of
	// range, or an admin request that cannot be decoded.
	ErrInvalidRequest = errors.New("master: invalid request")
	// ErrBadHeartbeat is returned for a heartbeat that cannot be decoded or
	// carries an invalid store name, address or shard list.
	ErrBadHeartbeat = errors.New("master: bad heartbeat")
	// ErrPublish is returned when the topology could not be published: the
	// bus failed, or the compare-and-set kept conflicting.
	ErrPublish = errors.New("master: cannot publish topology")
	// ErrClosed is returned by Start after Shutdown or a second Start, and
	// by admin operations while the master is stopping.
	ErrClosed = errors.New("master: closed or already started")
	// ErrBusy is returned when an operation is started on a keyspace (or a
	// store holding one) that has another operation running.
	ErrBusy = errors.New("master: operation running")
	// ErrNotFound is returned for an unknown store or operation, a remote
	// DC to remove that is not listed, or one to add that cannot be reached.
	ErrNotFound = errors.New("master: not found")
	// ErrDCExists is returned when adding a remote DC already listed.
	ErrDCExists = errors.New("master: remote DC already listed")
)
