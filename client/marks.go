package client

import (
	"sync"
	"sync/atomic"
	"time"
)

// hedgeWaitForWrites is how long a hedged read waits on the second replica
// for the client's latest write there (VGET ... AFTER token TIMEOUT), so a
// hedge does not answer from a replica that has not applied it yet.
const hedgeWaitForWrites = 200 * time.Millisecond

// writeMarks remembers, per shard and per store that took them, the latest
// write this client had acknowledged. Reads normally go to the replica that
// takes the shard's writes, so a client reads its own writes; a hedged read
// goes to another replica, and asks it to wait for the latest of those
// writes first (WithAfter's mechanism).
type writeMarks struct {
	shards sync.Map // markKey -> *shardMarks
	seq    atomic.Uint64
}

type markKey struct {
	ks    string
	shard uint32
}

type shardMarks struct {
	mu     sync.Mutex
	origin map[string]mark // by the store that took the write
}

type mark struct {
	index uint64 // the write's index in that store's log of the shard
	dc    string // the store's DC
	seq   uint64 // when it was recorded, across stores
}

// record notes an acknowledged write.
func (m *writeMarks) record(ks string, r WriteResult) {
	if !r.Applied || r.LogIndex == 0 {
		return
	}
	k := markKey{ks, r.Shard}
	v, ok := m.shards.Load(k)
	if !ok {
		v, _ = m.shards.LoadOrStore(k, &shardMarks{origin: map[string]mark{}})
	}
	sm := v.(*shardMarks)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if cur, ok := sm.origin[r.Version.Node]; !ok || cur.index < r.LogIndex {
		sm.origin[r.Version.Node] = mark{index: r.LogIndex, dc: r.Version.DC, seq: m.seq.Add(1)}
	}
}

// tokenFor returns the token of the latest write acknowledged on the shard
// by a store other than target, or "" when there is none.
func (m *writeMarks) tokenFor(ks string, shard uint32, target string) string {
	v, ok := m.shards.Load(markKey{ks, shard})
	if !ok {
		return ""
	}
	sm := v.(*shardMarks)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	var best mark
	var bestOrigin string
	for origin, mk := range sm.origin {
		if origin != target && mk.seq > best.seq {
			best, bestOrigin = mk, origin
		}
	}
	if bestOrigin == "" {
		return ""
	}
	// The write's WriteResult.Token.
	return WriteResult{Applied: true, Version: Version{DC: best.dc, Node: bestOrigin}, Shard: shard, LogIndex: best.index}.Token()
}
