package replica

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/store"
)

// The tombstone purge watermark (see package dc for the cross-DC side). A
// shard purges tombstones dead before the minimum of the remote DCs' bound
// (CrossDC.Watermark) and of its peers' W(P): W(P) advances while this
// replica's consumer of peer P's change log has nothing pending, less the
// event-time guard (MaxFuture), on top of the grace period. A shard with no
// peer in a DC with no remote DC purges on the grace period alone.

// watermarkInterval is how often the purge watermark is recomputed.
const watermarkInterval = time.Second

// watermarkAsksPerTick bounds how many shard workers have their peers'
// consumers asked about at each tick (one JetStream request per peer):
// asking for every consumer every second kept a DC with thousands of shard
// replicas busy at rest. The workers take turns, so each is asked every
// ceil(workers / watermarkAsksPerTick) ticks and its marks lag by that
// much, against a tombstone grace period of hours; the others keep the
// marks they have.
const watermarkAsksPerTick = 64

func (a *Agent) watermarkLoop() {
	tick := time.NewTicker(watermarkInterval)
	defer tick.Stop()
	next := 0 // the first worker asked at the next tick, in ref order
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		}
		w := int64(math.MaxInt64)
		if a.cfg.CrossDC != nil {
			w = a.cfg.CrossDC.Watermark(a.ctx)
		}
		a.purge.Store(w)
		a.mu.Lock()
		var workers []*shardWorker
		for _, s := range a.shards {
			if s.worker != nil {
				workers = append(workers, s.worker)
			}
		}
		a.mu.Unlock()
		slices.SortFunc(workers, func(x, y *shardWorker) int {
			return cmp.Or(strings.Compare(x.ref.Keyspace, y.ref.Keyspace), cmp.Compare(x.ref.Shard, y.ref.Shard))
		})
		var ask func(i int) bool
		ask, next = watermarkTurn(len(workers), next, watermarkAsksPerTick)
		for i, sw := range workers {
			bound := sw.purgeBound()
			if ask(i) {
				bound = sw.peerWatermark(a.ctx)
			}
			sw.sh.SetPurgeWatermark(min(w, bound))
		}
	}
}

// watermarkTurn picks the workers asked at one tick: of n workers in a
// fixed order, budget of them starting at next (wrapping around), all of
// them if n <= budget. It returns whether worker i is asked and where the
// next tick starts.
func watermarkTurn(n, next, budget int) (ask func(i int) bool, after int) {
	if n == 0 {
		return func(int) bool { return false }, 0
	}
	next %= n
	k := min(n, budget)
	return func(i int) bool { return (i-next+n)%n < k }, (next + k) % n
}

// peerWatermark advances each peer's W(P) where it can and returns the
// shard's in-DC bound (MaxInt64 without peers).
func (w *shardWorker) peerWatermark(ctx context.Context) int64 {
	if len(w.peers) == 0 {
		return math.MaxInt64
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	before := w.a.cfg.Shards.Clock().Now()
	stream, err := bus.ChangeStream(w.a.cfg.DC)
	if err != nil {
		return math.MinInt64
	}
	for _, p := range w.peers {
		pending, _, err := w.a.cfg.Bus.ConsumerPending(ctx, stream, peerDurable(w.a.cfg.Store, w.ref, p))
		w.peerWM[p] = store.AdvanceMark(w.peerWM[p], err == nil && pending == 0, before)
	}
	return w.purgeBound()
}

// purgeBound returns the shard's in-DC bound from its peers' marks as they
// are (MaxInt64 without peers), without asking the server.
func (w *shardWorker) purgeBound() int64 {
	if len(w.peers) == 0 {
		return math.MaxInt64
	}
	marks := make([]int64, 0, len(w.peers))
	for _, p := range w.peers {
		marks = append(marks, w.peerWM[p])
	}
	return store.PurgeBound(marks, w.a.cfg.Shards.MaxFuture())
}
