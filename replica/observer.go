package replica

import (
	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// Observer is told of the agent's replication events as they happen, for
// metrics. Its methods run on the replication goroutines: they must be
// cheap, must not block and must be safe for concurrent use.
type Observer interface {
	// PeerApplied reports a batch of a peer's change log applied to a
	// shard: how many changes won under LWW and how many lost (stale),
	// how many messages the peer's consumer still had to deliver after the
	// batch, and the newest event time in the batch (ns since the Unix
	// epoch; 0 if the batch was empty).
	PeerApplied(keyspace string, shard uint32, peer string, applied, stale int, pending uint64, newest int64)
	// PeerStopped reports that the shard no longer follows peer here (the
	// worker stopped): its lag is no longer measured.
	PeerStopped(keyspace string, shard uint32, peer string)
	// RebootstrapStarted and RebootstrapFinished bracket a copy of a
	// peer's shard (re-bootstrap); err is nil when it completed.
	RebootstrapStarted(keyspace string, shard uint32, peer string)
	RebootstrapFinished(keyspace string, shard uint32, peer string, err error)
	// Copied reports records copied into a shard from another store: kind
	// is "resize" (a resize fill) or "bootstrap" (a re-bootstrap, or a
	// new replica's first copy), bytes the size of their keys and values.
	Copied(kind, keyspace string, shard uint32, keys int, bytes int64)
}

// NopObserver is an Observer that does nothing.
type NopObserver struct{}

func (NopObserver) PeerApplied(string, uint32, string, int, int, uint64, int64) {}
func (NopObserver) PeerStopped(string, uint32, string)                          {}
func (NopObserver) RebootstrapStarted(string, uint32, string)                   {}
func (NopObserver) RebootstrapFinished(string, uint32, string, error)           {}
func (NopObserver) Copied(string, string, uint32, int, int64)                   {}

// Copy kinds for Observer.Copied.
const (
	CopyResize    = "resize"
	CopyBootstrap = "bootstrap"
)

// observeApplied tells the Observer of a peer's batch applied.
func (w *shardWorker) observeApplied(peer string, msgs []bus.Delivered, changes []lww.Change, res []store.Result) {
	applied, newest := store.Tally(changes, res)
	var pending uint64
	if len(msgs) > 0 {
		pending = msgs[len(msgs)-1].Pending
	}
	w.a.cfg.Observer.PeerApplied(w.ref.Keyspace, w.ref.Shard, peer, applied, len(res)-applied, pending, newest)
}

// changesBytes is the size of the keys and values of changes.
func changesBytes(changes []lww.Change) int64 {
	var n int64
	for i := range changes {
		n += int64(len(changes[i].Key) + len(changes[i].Record.Value))
	}
	return n
}
