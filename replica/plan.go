package replica

import (
	"slices"

	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// Planning: what a topology asks of this store, decided without touching a
// shard. The agent does what these functions decide (reconcile).

// planShards lists the shards topology t places on store me: those of the
// routed layout and, during a resize, those of the other layout (new target
// shards, owning their keys of the new layout, while copying; removed source
// shards, owning nothing, until the resize ends). A shard of the new layout
// placed on me fills for the resize (fill is the resize's ID).
func planShards(t *topology.Topology, me string) map[topology.ShardRef]shardPlan {
	want := map[topology.ShardRef]shardPlan{}
	for _, name := range t.KeyspaceNames() {
		planKeyspace(want, t.Keyspaces[name], name, me)
	}
	return want
}

// planKeyspace adds to want the shards of keyspace ks placed on me.
func planKeyspace(want map[topology.ShardRef]shardPlan, ks *topology.Keyspace, name, me string) {
	for i, reps := range ks.Placement {
		if slices.Contains(reps, me) {
			ref := topology.ShardRef{Keyspace: name, Shard: uint32(i)}
			want[ref] = shardPlan{peers: peersOf(reps, me), owner: store.Owner{Shards: ks.Shards, Index: uint32(i)},
				epoch: ks.ShardEpoch(uint32(i)), layout: ks.Shards, replicas: ks.Replicas}
		}
	}
	r := ks.Resize
	if r == nil {
		return
	}
	for i, reps := range r.Placement {
		ref := topology.ShardRef{Keyspace: name, Shard: uint32(i)}
		if _, ok := want[ref]; ok || !slices.Contains(reps, me) || i < ks.Shards {
			continue
		}
		p := shardPlan{peers: peersOf(reps, me), epoch: ks.ShardEpoch(uint32(i)), replicas: ks.Replicas}
		if r.Phase == topology.PhaseCopy {
			p.owner, p.layout = store.Owner{Shards: r.To, Index: uint32(i)}, r.To // a new target shard
		} else {
			p.owner, p.layout = ownNothing, r.From // a removed source shard
		}
		want[ref] = p
	}
	newPlacement := r.NewPlacement(ks)
	for _, tgt := range r.Targets() {
		ref := topology.ShardRef{Keyspace: name, Shard: tgt}
		if p, ok := want[ref]; ok && slices.Contains(newPlacement[tgt], me) {
			p.fill = r.ID
			want[ref] = p
		}
	}
}

// workerAction is what a new topology does to a running shard worker.
type workerAction int

const (
	// workerKeep: same incarnation, same peers; the worker runs on.
	workerKeep workerAction = iota
	// workerRestart: the worker stops and a new one starts from scratch
	// (the shard serves again once caught up), or, if the shard is no
	// longer placed here, none starts.
	workerRestart
	// workerResume: only the peers changed and the replica was caught up;
	// the new worker keeps the shard serving.
	workerResume
)

// workerState is what reconcile knows of a running shard worker.
type workerState struct {
	epoch   uint64   // the shard's epoch
	peers   []string // the peers it consumes, departed ones included
	serving bool     // the shard serves reads
}

// nextWorker decides what happens to a running worker under a new plan:
// placed tells whether the shard is still planned here, epoch is the
// planned shard epoch and peers the peers to consume (with the departed
// ones, sorted). A different epoch means another incarnation of the shard
// (the keyspace was created again, or the shard number reused by a later
// resize): the worker restarts. A change of peers alone resumes a serving
// replica: a new peer has no writes of its own yet, and a departed one is
// followed to its end.
func nextWorker(cur workerState, placed bool, epoch uint64, peers []string) workerAction {
	if placed && slices.Equal(peers, cur.peers) && cur.epoch == epoch {
		return workerKeep
	}
	if placed && cur.epoch == epoch && cur.serving {
		return workerResume
	}
	return workerRestart
}

// nextDeparted returns the departed peers of a shard after its peers went
// from was to now: those that left the placement are added (their last
// changes are still applied here), those back in it are removed. departed
// is not modified.
func nextDeparted(departed map[string]bool, was, now []string) map[string]bool {
	out := map[string]bool{}
	for p := range departed {
		out[p] = true
	}
	for _, p := range was {
		if !slices.Contains(now, p) {
			out[p] = true
		}
	}
	for p := range out {
		if slices.Contains(now, p) {
			delete(out, p)
		}
	}
	return out
}
