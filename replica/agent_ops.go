package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// The agent's side of online operations: which shards a topology places
// here (in both layouts of a resize), the owners it gives them, resize
// fills, shards leaving this store, peers leaving a shard, and the cleanup
// of keys an earlier layout left behind.

// ownNothing is the owner of a shard that is no longer placed here: every
// key is answered MOVED.
var ownNothing = store.Owner{Shards: -1}

// shardPlan is what the topology asks of one shard held here.
type shardPlan struct {
	peers  []string
	owner  store.Owner
	epoch  uint64
	layout int // the shard count of the layout the shard belongs to
	// replicas is the keyspace's replica count, recorded with the shard
	// (metaReplicas) so a lost topology can be rebuilt.
	replicas int
	fill     uint64 // the resize whose target this replica fills, or 0
}

// plan lists the shards the topology places on this store (planShards)
// and records its keyspaces as seen.
func (a *Agent) plan(t *topology.Topology) map[topology.ShardRef]shardPlan {
	for _, name := range t.KeyspaceNames() {
		a.seen[name] = true
	}
	return planShards(t, a.cfg.Store)
}

// setOwner gives a shard its owner for topology version, if it changed.
func (a *Agent) setOwner(ref topology.ShardRef, sh Shard, o store.Owner, version uint64) {
	if cur, v := sh.Owner(); cur == o && v != 0 {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	if _, err := sh.SetOwner(ctx, o, version); err != nil {
		a.log.Error("set shard owner", "shard", ref.String(), "error", err)
	}
}

// reconcileFills runs a fill for every resize target replica placed here
// and stops the others (deleting their consumers once the resize is over).
func (a *Agent) reconcileFills(t *topology.Topology, want map[topology.ShardRef]shardPlan) {
	for ref, s := range a.shards {
		f := s.fill
		if f == nil {
			continue
		}
		if p, ok := want[ref]; ok && p.fill == f.rid {
			continue
		}
		s.fill = nil
		a.tidy(ref)
		ks, ok := t.Keyspaces[ref.Keyspace]
		over := !ok || ks.Resize == nil || ks.Resize.ID != f.rid
		cancelled := over && ok && f.report().Phase != topology.FillDrained
		a.routines.Go(func() {
			f.stop(over)
			if cancelled {
				// Keys copied for a resize that did not happen are not
				// this shard's: clean them up (a dropped, closed shard
				// took them along).
				if err := f.sh.SetLayout(0); err != nil && !errors.Is(err, store.ErrClosed) {
					a.log.Error("keys copied for a cancelled resize stay until the next layout change",
						"shard", ref.String(), "error", err)
				}
				a.kickReconcile()
			}
		})
	}
	for ref, p := range want {
		if p.fill == 0 {
			continue
		}
		s := a.shard(ref)
		if s.fill != nil || s.worker == nil {
			continue
		}
		f := newFiller(a, ref, s.worker.sh, p.fill)
		s.fill = f
		f.start(a.ctx)
	}
	list := []*filler{}
	for _, s := range a.shards {
		if s.fill != nil {
			list = append(list, s.fill)
		}
	}
	a.fillList.Store(&list)
}

// kickReconcile makes the reconcile loop run again on the current
// topology.
func (a *Agent) kickReconcile() {
	if t := a.currentTopology(); t != nil {
		select {
		case a.topoCh <- t:
		default:
		}
	}
}

// reconcileCleanups removes, in the background, the keys that an earlier
// layout left on the shards of keyspaces not being resized.
func (a *Agent) reconcileCleanups(t *topology.Topology, want map[topology.ShardRef]shardPlan) {
	for ref, p := range want {
		ks := t.Keyspaces[ref.Keyspace]
		s := a.shard(ref)
		if ks.Resize != nil || s.cleanup != nil || p.layout != ks.Shards || s.worker == nil {
			continue
		}
		w := s.worker
		done, err := w.sh.Layout()
		if err != nil || done == uint64(ks.Shards) {
			continue
		}
		ctx, cancel := context.WithCancel(a.ctx)
		s.cleanup = cancel
		if !a.routines.Go(func() { a.cleanup(ctx, ref, w.sh, ks.Shards) }) {
			cancel()
			s.cleanup = nil
		}
	}
}

func (a *Agent) cleanup(ctx context.Context, ref topology.ShardRef, sh Shard, shards int) {
	defer func() {
		a.mu.Lock()
		a.shard(ref).cleanup = nil
		a.tidy(ref)
		a.mu.Unlock()
	}()
	start := time.Now()
	removed, err := sh.RemoveUnowned(ctx, 1000)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("cleanup of moved keys failed; will retry", "shard", ref.String(), "error", err)
		}
		return
	}
	if o, _ := sh.Owner(); o.Shards != shards {
		return // the layout changed meanwhile: the next reconcile cleans again
	}
	if err := sh.SetLayout(uint64(shards)); err != nil {
		a.log.Warn("cleanup not recorded", "shard", ref.String(), "error", err)
		return
	}
	if removed > 0 {
		a.log.Info("removed keys that moved to other shards", "shard", ref.String(), "keys", removed,
			"took", time.Since(start).String())
	}
}

// leave handles a shard no longer placed here whose keyspace still exists:
// it answers MOVED for every key from now on, publishes what its change
// log still holds, and is dropped once that is done. It reports whether the
// shard is leaving.
func (a *Agent) leave(t *topology.Topology, ref topology.ShardRef, sh Shard) bool {
	ks, ok := t.Keyspaces[ref.Keyspace]
	if !ok || !a.seen[ref.Keyspace] || sh.Epoch() != ks.ShardEpoch(ref.Shard) && int(ref.Shard) < ks.Shards {
		return false
	}
	if cancel := a.shard(ref).cleanup; cancel != nil {
		cancel()
	}
	a.setOwner(ref, sh, ownNothing, t.Version)
	// Not a replica any more: the heartbeat must not list it as served (a
	// move back onto this store waits for a real catch-up).
	sh.SetServing(false)
	w := newShardWorker(a, sh, ref, nil, nil, t)
	w.leaving = true
	a.state(ref).leaving = w
	w.start(a.ctx)
	a.log.Info("shard leaving this store; publishing the rest of its change log", "shard", ref.String())
	return true
}

// left hands a leaving shard whose change log is all published to
// reconcile, which stops its worker and drops it.
func (a *Agent) left(ref topology.ShardRef, w *shardWorker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.shard(ref)
	if s.leaving != w || a.stopped {
		return
	}
	s.leaving, s.published = nil, w
	a.kickReconcile()
}

// noteDepartures records the peers of a shard that are not in its new
// placement: their last changes are still applied here (farewell).
func (a *Agent) noteDepartures(ref topology.ShardRef, w *shardWorker, peers []string) {
	s := a.state(ref)
	s.departed = nextDeparted(s.departed, w.peers, peers)
	a.tidy(ref)
}

func (a *Agent) departedOf(ref topology.ShardRef) []string {
	var out []string
	for p := range a.shard(ref).departed {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// withDeparted returns peers plus the departed peers of ref, sorted.
func (a *Agent) withDeparted(ref topology.ShardRef, peers []string) []string {
	out := append(slices.Clone(peers), a.departedOf(ref)...)
	slices.Sort(out)
	return slices.Compact(out)
}

// farewellDone forgets a departed peer whose last changes were applied.
func (a *Agent) farewellDone(ref topology.ShardRef, peer string) {
	a.mu.Lock()
	delete(a.shard(ref).departed, peer)
	a.tidy(ref)
	a.mu.Unlock()
	a.kickReconcile()
}

// farewell applies the last changes of a peer that left the shard's
// placement: once the peer no longer holds the shard (it published all of
// its change log and dropped it) it waits until this replica applied the
// peer's log up to the last entry in the stream. A peer that is down is
// given up on at once.
func (w *shardWorker) farewell(ctx context.Context, peer string) {
	defer w.wg.Done()
	stream, err := bus.ChangeStream(w.a.cfg.DC)
	if err != nil {
		return
	}
	subj, err := bus.ChangeSubject(w.a.cfg.DC, w.ref.Keyspace, w.ref.Shard, peer)
	if err != nil {
		return
	}
	var pc Peer // one connection for the whole wait
	defer func() {
		if pc != nil {
			_ = pc.Close()
		}
	}()
	for ctx.Err() == nil {
		t := w.a.currentTopology()
		st, ok := t.Stores[peer]
		if !ok || !st.Healthy || st.Addr == "" {
			w.log.Warn("departed peer is down; not waiting for its last changes", "peer", peer)
			break
		}
		var err error
		if pc == nil || pc.Broken() {
			if pc != nil {
				_ = pc.Close()
			}
			pc, err = w.a.cfg.Dial(ctx, st.Addr)
		}
		// The peer no longer holds the shard once it published its whole
		// change log and dropped it.
		if err == nil && peerclient.IsCode(pc.Use(w.ref.Keyspace, w.ref.Shard), "NOSHARD") {
			var last, seq uint64
			if m, err := w.a.cfg.Bus.LastOnSubject(ctx, stream, subj); err == nil {
				last, _ = strconv.ParseUint(m.Header[hdrIndex], 10, 64)
				seq = m.StreamSeq
			} else if !errors.Is(err, bus.ErrNoMessage) {
				retry.Sleep(ctx, 100*time.Millisecond)
				continue
			}
			// The cursor is the highest index applied; the consumer having
			// acknowledged everything up to the last message also rules out
			// a failed batch waiting for redelivery below it.
			cur, err := w.sh.Cursor(w.source(peer))
			passed := seq == 0
			if !passed {
				passed, _ = w.a.cfg.Bus.ConsumerPassed(ctx, stream, peerDurable(w.a.cfg.Store, w.ref, peer), seq)
			}
			if err == nil && cur >= last && passed {
				w.log.Info("applied the last changes of a departed peer", "peer", peer, "index", last)
				break
			}
		}
		retry.Sleep(ctx, 100*time.Millisecond)
	}
	if ctx.Err() == nil {
		w.a.routines.Go(func() { w.a.farewellDone(w.ref, peer) })
	}
}

// shardSize estimates a shard's keys and their uncompressed bytes (keys
// plus records) from RocksDB's properties: the number of keys times the
// average raw key and value size of the SST files (the live data size would
// count compressed bytes).
func shardSize(sh Shard) topology.ShardSize {
	keys, _ := strconv.ParseUint(sh.Property("rocksdb.estimate-num-keys"), 10, 64)
	props := sh.Property("rocksdb.aggregated-table-properties")
	avg := tableProp(props, "raw average key size") + tableProp(props, "raw average value size")
	if avg == 0 {
		// No SST file yet: the data is in the memtables, whose size
		// (with overhead) is the best estimate there is.
		live, _ := strconv.ParseUint(sh.Property("rocksdb.estimate-live-data-size"), 10, 64)
		mem, _ := strconv.ParseUint(sh.Property("rocksdb.cur-size-all-mem-tables"), 10, 64)
		return topology.ShardSize{Keys: keys, Bytes: live + mem}
	}
	return topology.ShardSize{Keys: keys, Bytes: uint64(float64(keys) * avg)}
}

// tableProp reads "name=value" from RocksDB's "; "-separated table
// properties, 0 if absent.
func tableProp(props, name string) float64 {
	for _, kv := range strings.Split(props, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == name {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// WaitReplicas waits until want other replicas of the shard applied this
// store's change-log entry index, which must already be published (see
// store.Shard.WaitPublished): until a peer's consumer of this store's
// change subject has acknowledged (after applying) every message up to the
// subject's last one. It returns how many other replicas had applied it
// when it returned: want or more, or fewer with an error wrapping
// ErrNotReplicated when ctx ended first or the shard has too few other
// replicas on this store's placement. Index 0 (nothing written) counts
// every other replica at once.
func (a *Agent) WaitReplicas(ctx context.Context, ks string, shard uint32, index uint64, want int) (int, error) {
	ref := topology.ShardRef{Keyspace: ks, Shard: shard}
	a.mu.Lock()
	var w *shardWorker
	if s := a.shards[ref]; s != nil {
		w = s.worker
	}
	a.mu.Unlock()
	if w == nil || len(w.peers) == 0 {
		return 0, fmt.Errorf("%w: shard %s has no other replica on this store's placement", ErrNotReplicated, ref)
	}
	if index == 0 {
		return len(w.peers), nil
	}
	// Asked for more replicas than the shard has: count those it has.
	target := min(want, len(w.peers))
	got, err := a.waitApplied(ctx, ref, w.peers, index, target)
	if err == nil && target < want {
		err = fmt.Errorf("%w: shard %s has %d other replicas on this store's placement, %d asked", ErrNotReplicated, ref, len(w.peers), want)
	}
	return got, err
}
