package store

import "errors"

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
var (
	// ErrNotFound is returned for a key that has no live value.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by operations on a closed shard or engine.
	ErrClosed = errors.New("store: closed")
	// ErrKeyTooLarge is returned for an empty key or one over MaxKeySize.
	ErrKeyTooLarge = errors.New("store: key empty or too large")
	// ErrValueTooLarge is returned for a value over MaxValueSize.
	ErrValueTooLarge = errors.New("store: value too large")
	// ErrBatchTooLarge is returned for a batch over MaxBatchWrites or
	// MaxBatchBytes.
	ErrBatchTooLarge = errors.New("store: batch too large")
	// ErrBadName is returned for a keyspace name that is not 1-64 ASCII
	// letters, digits, '-' or '_'.
	ErrBadName = errors.New("store: bad keyspace name")
	// ErrNoShard is returned for a (keyspace, shard) this store does not hold.
	ErrNoShard = errors.New("store: shard not held by this store")
	// ErrShardExists is returned when creating a shard that is already open.
	ErrShardExists = errors.New("store: shard already exists")
	// ErrTooManyShards is returned when creating a shard that would take
	// the engine past its open-files budget (Config.MaxOpenFiles).
	ErrTooManyShards = errors.New("store: too many shards for the open-files budget")
	// ErrCorrupt is returned when stored bytes cannot be decoded.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("store: invalid config")
	// ErrCatchingUp is returned for a read of a shard that is still catching
	// up with its peers' change logs: read another replica.
	ErrCatchingUp = errors.New("store: shard catching up")
	// ErrBadRange is returned for a scan whose bounds are inconsistent.
	ErrBadRange = errors.New("store: bad scan range")
	// ErrMoved is returned for a local write or a read of a key the shard no
	// longer owns after a resize (see Shard.SetOwner): refresh the topology
	// and retry on the shard that owns the key now.
	ErrMoved = errors.New("store: key moved to another shard")
	// ErrBadPage is returned by Ingest for a page whose keys are not sorted
	// ascending and distinct.
	ErrBadPage = errors.New("store: ingest page not sorted by distinct keys")
	// ErrSnapshotReleased is returned by a DumpSnapshot read after the
	// snapshot was released (by its holder, or because the shard closed or
	// reopened).
	ErrSnapshotReleased = errors.New("store: dump snapshot released")
	// ErrReadOnly is returned for a write to a shard whose database failed
	// a write (typically a full disk): the shard serves reads but refuses
	// writes until it could reopen its database. Write to another replica.
	ErrReadOnly = errors.New("store: shard read-only")
	// ErrNotPublished is returned by WaitPublished when the write's
	// change-log entry was not acknowledged downstream in time (or the
	// write logged none). The write itself stands.
	ErrNotPublished = errors.New("store: write not published")
)
