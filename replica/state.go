package replica

import (
	"context"

	"github.com/vasto-kv/vasto/topology"
)

// shardState is what the agent keeps about one shard. An entry whose
// fields are all zero is removed (tidy).
type shardState struct {
	// worker publishes and replicates the shard while it is placed here.
	worker *shardWorker
	// fill fills the shard as a resize target.
	fill *filler
	// leaving publishes the rest of the change log of a shard no longer
	// placed here before it is dropped.
	leaving *shardWorker
	// published is a leaving worker that published the whole change log:
	// reconcile stops it and drops the shard.
	published *shardWorker
	// departed are peers that left the shard's placement and whose last
	// changes are still to be applied here.
	departed map[string]bool
	// warned: the shard was reported as a stray (warnStrays).
	warned bool
	// resume: the next worker restarted only because the peers changed
	// while the replica was caught up.
	resume bool
	// cleanup cancels the removal of keys of an earlier layout.
	cleanup context.CancelFunc
	// unplaced is why the shard is held but not placed here, as last
	// logged.
	unplaced string
}

// empty reports whether s holds nothing worth keeping.
func (s *shardState) empty() bool {
	return s.worker == nil && s.fill == nil && !s.isLeaving() && len(s.departed) == 0 &&
		!s.warned && !s.resume && s.cleanup == nil && s.unplaced == ""
}

// isLeaving reports whether the shard is leaving this store.
func (s *shardState) isLeaving() bool { return s.leaving != nil || s.published != nil }

// shard returns the state of ref, or a zero state not recorded; for
// reading only.
func (a *Agent) shard(ref topology.ShardRef) *shardState {
	if s, ok := a.shards[ref]; ok {
		return s
	}
	return &shardState{}
}

// state returns the state of ref, recording a new one if there is none.
func (a *Agent) state(ref topology.ShardRef) *shardState {
	s, ok := a.shards[ref]
	if !ok {
		s = &shardState{}
		a.shards[ref] = s
	}
	return s
}

// tidy forgets the state of ref if it became empty.
func (a *Agent) tidy(ref topology.ShardRef) {
	if s, ok := a.shards[ref]; ok && s.empty() {
		delete(a.shards, ref)
	}
}
