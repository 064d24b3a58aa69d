package replica

import (
	"context"
	"math"
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

func (a *Agent) watermarkLoop() {
	tick := time.NewTicker(watermarkInterval)
	defer tick.Stop()
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
		for _, sw := range workers {
			sw.sh.SetPurgeWatermark(min(w, sw.peerWatermark(a.ctx)))
		}
	}
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
	marks := make([]int64, 0, len(w.peers))
	for _, p := range w.peers {
		pending, _, err := w.a.cfg.Bus.ConsumerPending(ctx, stream, peerDurable(w.a.cfg.Store, w.ref, p))
		w.peerWM[p] = store.AdvanceMark(w.peerWM[p], err == nil && pending == 0, before)
		marks = append(marks, w.peerWM[p])
	}
	return store.PurgeBound(marks, w.a.cfg.Shards.MaxFuture())
}
