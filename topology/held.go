package topology

import (
	"fmt"
	"slices"
	"sort"
)

// HeldShard is one shard replica a store holds on disk, as it reports it in
// its heartbeat: enough for a master that lost its topology to rebuild the
// keyspace (name, incarnation, layout, replica count, holders).
type HeldShard struct {
	Keyspace string `json:"keyspace"`
	Shard    uint32 `json:"shard"`
	// Epoch is the incarnation of the keyspace (or the resize that added
	// the shard) the shard belongs to; 0 if it never joined a cluster.
	Epoch uint64 `json:"epoch"`
	// Shards is the shard count of the layout the shard was last placed
	// under; 0 if unknown.
	Shards int `json:"shards,omitempty"`
	// Replicas is the keyspace's replica count when the shard was placed;
	// 0 if unknown.
	Replicas int `json:"replicas,omitempty"`
}

// String formats ks/shard@epoch.
func (h HeldShard) String() string { return fmt.Sprintf("%s/%d@%d", h.Keyspace, h.Shard, h.Epoch) }

// Deleted records one deleted incarnation of a keyspace. A store deletes a
// shard's files only when the topology records the shard's exact
// incarnation here (or on an operator's explicit command): a topology that
// merely does not know a keyspace, or names another incarnation of it,
// never makes a store delete data.
type Deleted struct {
	Name  string `json:"name"`
	Epoch uint64 `json:"epoch"`
	// Version is the topology version that deleted it.
	Version uint64 `json:"version"`
}

// MaxDeleted bounds the deleted incarnations a topology remembers. A store
// that was down for more deletions than this keeps the shards of the
// forgotten ones and reports them as held but not placed.
const MaxDeleted = 1024

// IsDeleted reports whether the incarnation epoch of keyspace name is
// recorded as deleted. A shard added by a resize carries the resize's epoch
// (see Keyspace.ShardEpoch): it counts as deleted when its keyspace's
// incarnation is, which the caller tells with ShardEpochs. IsDeleted checks
// the exact epoch only.
func (t *Topology) IsDeleted(name string, epoch uint64) bool {
	for _, d := range t.Deleted {
		if d.Name == name && d.Epoch == epoch {
			return true
		}
	}
	return false
}

// RecordDeleted remembers that the incarnations epochs of keyspace name were
// deleted at version, forgetting the oldest records beyond MaxDeleted.
func (t *Topology) RecordDeleted(name string, version uint64, epochs ...uint64) {
	seen := map[uint64]bool{}
	for _, e := range epochs {
		if e == 0 || seen[e] || t.IsDeleted(name, e) {
			continue
		}
		seen[e] = true
		t.Deleted = append(t.Deleted, Deleted{Name: name, Epoch: e, Version: version})
	}
	if over := len(t.Deleted) - MaxDeleted; over > 0 {
		t.Deleted = append([]Deleted(nil), t.Deleted[over:]...)
	}
}

// HasEpoch reports whether one of the keyspace's shards carries epoch e
// (the keyspace's own, a resized shard's, or one of a resize's other
// layout): Epochs without building the list.
func (k *Keyspace) HasEpoch(e uint64) bool {
	if e == 0 {
		return false
	}
	if e == k.Epoch || slices.Contains(k.ShardEpochs, e) {
		return true
	}
	return k.Resize != nil && slices.Contains(k.Resize.Epochs, e)
}

// Epochs lists every epoch a keyspace's shards carry (the keyspace's own,
// those of shards added by resizes, and those of a resize's other layout),
// in increasing order.
func (k *Keyspace) Epochs() []uint64 {
	set := map[uint64]bool{k.Epoch: true}
	for _, e := range k.ShardEpochs {
		set[e] = true
	}
	if k.Resize != nil {
		for _, e := range k.Resize.Epochs {
			set[e] = true
		}
	}
	out := make([]uint64, 0, len(set))
	for e := range set {
		if e != 0 {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
