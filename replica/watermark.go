package replica

import (
	"context"
	"math"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// Tombstone purge across DCs. A tombstone may be forgotten only once no
// write it must beat can still arrive: every remote DC's writes accepted
// before the tombstone took effect must have been applied here. The agent
// tracks, per remote DC, a time W(D) such that everything D published
// before W(D) has been applied by this store: it advances W(D) to the time
// just before it asked, whenever the local copy of D's stream holds
// everything D's stream held when asked (CaughtUp) and this store's
// appliers for D have nothing pending. A cut link freezes W(D).
//
// Inside the DC the same holds per shard and peer replica: W(P) advances
// while this replica's consumer of P's change log has nothing pending. A
// shard purges tombstones dead before the minimum of every W(D) and of its
// peers' W(P), less the event-time guard (MaxFuture, since a write's event
// time may lead its acceptance by that much), on top of the grace period.
// A shard with no peer in a DC with no remote DC purges on the grace period
// alone.

// watermarkInterval is how often the purge watermark is recomputed.
const watermarkInterval = time.Second

func (a *Agent) watermarkLoop() {
	defer a.wg.Done()
	tick := time.NewTicker(watermarkInterval)
	defer tick.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		}
		w := int64(math.MaxInt64)
		if len(a.cfg.RemoteDCs) > 0 {
			w = a.computeWatermark(a.ctx)
		}
		a.purge.Store(w)
		a.mu.Lock()
		workers := make([]*shardWorker, 0, len(a.workers))
		for _, sw := range a.workers {
			workers = append(workers, sw)
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
	before := w.a.cfg.Engine.Config().Clock.Now()
	stream, err := bus.ChangeStream(w.a.cfg.DC)
	if err != nil {
		return math.MinInt64
	}
	out := int64(math.MaxInt64)
	for _, p := range w.peers {
		pending, _, err := w.a.cfg.Bus.ConsumerPending(ctx, stream, peerDurable(w.a.cfg.Store, w.ref, p))
		if err == nil && pending == 0 && before-int64(time.Second) > w.peerWM[p] {
			w.peerWM[p] = before - int64(time.Second)
		}
		out = min(out, w.peerWM[p])
	}
	return out - int64(w.a.cfg.Engine.Config().MaxFuture)
}

// computeWatermark advances each remote DC's W(D) where it can and returns
// the purge watermark for local shards.
func (a *Agent) computeWatermark(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Everything a remote DC published before "before" is in the local copy
	// when SourceStatus (which reads the remote's last sequence afterwards)
	// says CaughtUp, and applied when the appliers have nothing pending.
	before := a.cfg.Engine.Config().Clock.Now()
	infos, err := a.cfg.Bus.SourceStatus(ctx, a.cfg.DC, a.cfg.RemoteDCs)
	if err == nil {
		a.kickStalled(ctx, infos)
		for _, info := range infos {
			if !info.Exists || info.Error != "" || info.RemoteError != "" || !info.CaughtUp {
				continue
			}
			if !a.appliersIdle(ctx, info.RemoteDC) {
				continue
			}
			w := before - int64(time.Second)
			if w > a.wm[info.RemoteDC] {
				a.wm[info.RemoteDC] = w
			}
		}
	}
	min := int64(math.MaxInt64)
	for _, r := range a.cfg.RemoteDCs {
		if a.wm[r] < min {
			min = a.wm[r]
		}
	}
	return min - int64(a.cfg.Engine.Config().MaxFuture)
}

// appliersIdle reports whether this store's appliers of remote have nothing
// pending.
func (a *Agent) appliersIdle(ctx context.Context, remote string) bool {
	a.mu.Lock()
	var keyspaces []string
	for _, w := range a.xdc {
		if w.remote == remote {
			keyspaces = append(keyspaces, w.keyspace)
		}
	}
	a.mu.Unlock()
	stream, err := bus.SourceStream(a.cfg.DC, remote)
	if err != nil {
		return false
	}
	for _, ks := range keyspaces {
		pending, _, err := a.cfg.Bus.ConsumerPending(ctx, stream, XDCDurable(a.cfg.Store, remote, ks))
		if err != nil || pending > 0 {
			return false
		}
	}
	return true
}

// Copy streams whose remote DC is reachable but that have not copied for a
// while are restarted, at most once per kickInterval each: nats-server
// otherwise waits out a back-off of up to minutes after an outage.
const (
	stalledAfter = 5 * time.Second
	kickInterval = 30 * time.Second
)

func (a *Agent) kickStalled(ctx context.Context, infos []bus.SourceInfo) {
	for _, info := range infos {
		stalled := info.Active < 0 || info.Active > stalledAfter
		if !info.Exists || info.RemoteError != "" || info.CaughtUp || !stalled {
			continue
		}
		if last, ok := a.kicked[info.RemoteDC]; ok && time.Since(last) < kickInterval {
			continue
		}
		a.kicked[info.RemoteDC] = time.Now()
		src := bus.SourceConfig{LocalDC: a.cfg.DC, RemoteDC: info.RemoteDC, MaxAge: a.cfg.Stream.MaxAge, MaxBytes: a.cfg.Stream.MaxBytes}
		if err := a.cfg.Bus.RestartSource(ctx, src); err != nil {
			a.log.Warn("could not restart stalled copy of remote DC", "remote_dc", info.RemoteDC, "error", err)
			continue
		}
		a.log.Info("restarted stalled copy of remote DC", "remote_dc", info.RemoteDC, "silent_for", info.Active.String())
	}
}
