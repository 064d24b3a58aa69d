package dc

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/store"
)

// Tombstone purge across DCs (Replicator.Watermark). A tombstone may be forgotten only once no
// write it must beat can still arrive: every remote DC's writes accepted
// before the tombstone took effect must have been applied here. The agent
// tracks, per remote DC, a time W(D) such that everything D published
// before W(D) has been applied by this store: it advances W(D) to the time
// just before it asked, whenever the local copy of D's stream holds
// everything D's stream held when asked (CaughtUp) and this store's
// appliers for D have nothing pending. A cut link freezes W(D).
//
// Inside the DC the same holds per shard and peer replica (package
// replica): a shard purges tombstones dead before the minimum of every W(D)
// and of its peers' W(P), less the event-time guard (MaxFuture, since a
// write's event time may lead its acceptance by that much), on top of the
// grace period.

// Watermark advances each remote DC's W(D) where it can and returns the
// purge watermark the remote DCs allow for local shards. Calls are
// serialised.
func (r *Replicator) Watermark(ctx context.Context) int64 {
	r.wmMu.Lock()
	defer r.wmMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Everything a remote DC published before "before" is in the local copy
	// when SourceStatus (which reads the remote's last sequence afterwards)
	// says CaughtUp, and applied when the appliers have nothing pending.
	before := r.cfg.Shards.Clock().Now()
	remotes := r.RemoteDCs()
	var infos []bus.SourceInfo
	var err error
	if len(remotes) > 0 {
		infos, err = r.cfg.Bus.SourceStatus(ctx, r.cfg.DC, remotes)
	}
	if err == nil {
		r.kickStalled(ctx, infos)
		for _, info := range infos {
			if !copied(info) {
				continue
			}
			r.wm[info.RemoteDC] = store.AdvanceMark(r.wm[info.RemoteDC], r.appliersIdle(ctx, info.RemoteDC), before)
		}
	}
	// A remote DC removed meanwhile no longer holds purging back: only the
	// DCs applied now count, and a removed DC's entry is forgotten (added
	// again, it starts from nothing).
	remotes = r.RemoteDCs()
	for d := range r.wm {
		if !slices.Contains(remotes, d) {
			delete(r.wm, d)
			delete(r.kicked, d)
		}
	}
	if len(remotes) == 0 {
		return math.MaxInt64 // no remote DC holds purging back
	}
	marks := make([]int64, 0, len(remotes))
	for _, d := range remotes {
		marks = append(marks, r.wm[d])
	}
	return store.PurgeBound(marks, r.cfg.Shards.MaxFuture())
}

// copied reports whether the local copy of a remote DC's stream holds
// everything the remote stream held when asked: the copy exists, neither
// side reports an error, and it is caught up.
func copied(info bus.SourceInfo) bool {
	return info.Exists && info.Error == "" && info.RemoteError == "" && info.CaughtUp
}

// appliersIdle reports whether this store's appliers of remote have nothing
// pending.
func (r *Replicator) appliersIdle(ctx context.Context, remote string) bool {
	r.mu.Lock()
	var keyspaces []string
	for _, w := range r.workers {
		if w.remote == remote {
			keyspaces = append(keyspaces, w.keyspace)
		}
	}
	r.mu.Unlock()
	stream, err := bus.SourceStream(r.cfg.DC, remote)
	if err != nil {
		return false
	}
	for _, ks := range keyspaces {
		pending, _, err := r.cfg.Bus.ConsumerPending(ctx, stream, Durable(r.cfg.Store, remote, ks))
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

func (r *Replicator) kickStalled(ctx context.Context, infos []bus.SourceInfo) {
	for _, info := range infos {
		stalled := info.Active < 0 || info.Active > stalledAfter
		if !info.Exists || info.RemoteError != "" || info.CaughtUp || !stalled {
			continue
		}
		if last, ok := r.kicked[info.RemoteDC]; ok && time.Since(last) < kickInterval {
			continue
		}
		r.kicked[info.RemoteDC] = time.Now()
		src := bus.SourceConfig{LocalDC: r.cfg.DC, RemoteDC: info.RemoteDC, MaxAge: r.cfg.Stream.MaxAge, MaxBytes: r.cfg.Stream.MaxBytes}
		if err := r.cfg.Bus.RestartSource(ctx, src); err != nil {
			r.log.Warn("could not restart stalled copy of remote DC", "remote_dc", info.RemoteDC, "error", err)
			continue
		}
		r.log.Info("restarted stalled copy of remote DC", "remote_dc", info.RemoteDC, "silent_for", info.Active.String())
	}
}
