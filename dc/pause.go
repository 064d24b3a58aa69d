package dc

import (
	"context"
	"time"
)

// Pausing cross-DC replication is a drill fault (VFAULT PAUSE-XDC): while
// paused, every applier holds the batch it was handed before applying
// anything of it and fetches nothing more, so the remote changes wait on
// NATS, none is lost or skipped, and once the pause ends they are applied
// in stream order. The held batch is acknowledged once applied, before the
// consumer pulls again; held past the consumer's ack wait, its messages
// are due for redelivery only at that next pull, and a change delivered
// twice is applied once under last-writer-wins.

// pauseState is the replicator's pause: until when, and a channel closed
// (and replaced) whenever the pause changes, to wake the holding appliers.
type pauseState struct {
	until   time.Time
	changed chan struct{}
}

// Pause stops applying remote changes until until; a zero or past time
// resumes at once. A batch being applied when it is called is finished.
func (r *Replicator) Pause(until time.Time) {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	r.pause.until = until
	if r.pause.changed != nil {
		close(r.pause.changed)
	}
	r.pause.changed = make(chan struct{})
	if until.IsZero() || !until.After(time.Now()) {
		r.log.Info("cross-DC replication resumed")
	} else {
		r.log.Warn("cross-DC replication paused", "until", until.UTC().Format(time.RFC3339Nano))
	}
}

// PausedUntil returns when the pause ends, or the zero time when not
// paused.
func (r *Replicator) PausedUntil() time.Time {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	if r.pause.until.IsZero() || !r.pause.until.After(time.Now()) {
		return time.Time{}
	}
	return r.pause.until
}

// holdWhilePaused returns once the replicator is not paused, or ctx's
// error when ctx ends first (the batch is then delivered again).
func (r *Replicator) holdWhilePaused(ctx context.Context) error {
	for {
		r.pauseMu.Lock()
		until, changed := r.pause.until, r.pause.changed
		r.pauseMu.Unlock()
		wait := time.Until(until)
		if until.IsZero() || wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}
