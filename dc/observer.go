package dc

// Observer is told of cross-DC replication events as they happen, for
// metrics. Its methods run on the appliers' goroutines: they must be cheap,
// must not block and must be safe for concurrent use.
type Observer interface {
	// RemoteApplied reports a batch of a remote DC's changes applied to
	// the shards of a keyspace held here: how many changes won under LWW
	// and how many lost (stale), how many messages the consumer still had
	// to deliver after the batch, and the newest event time in the batch
	// (ns since the Unix epoch; 0 if none).
	RemoteApplied(remoteDC, keyspace string, applied, stale int, pending uint64, newest int64)
	// RebootstrapStarted and RebootstrapFinished bracket a copy of a
	// keyspace from a remote DC after changes were lost to retention; err
	// is nil when it completed.
	RebootstrapStarted(remoteDC, keyspace string)
	RebootstrapFinished(remoteDC, keyspace string, err error)
}

// NopObserver is an Observer that does nothing.
type NopObserver struct{}

func (NopObserver) RemoteApplied(string, string, int, int, uint64, int64) {}
func (NopObserver) RebootstrapStarted(string, string)                     {}
func (NopObserver) RebootstrapFinished(string, string, error)             {}
