package replica

import (
	"context"
	"errors"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/retry"
)

// streamCheckInterval is the least time between two checks that the DC's
// change-log stream still exists (streamLoop).
const streamCheckInterval = 2 * time.Second

// streamLoop creates the DC's change-log stream again when it is gone: the
// NATS cluster lost its data (every server wiped or replaced) or the stream
// was deleted. Until then every publish fails and the change logs wait in
// the shards' outboxes; the replicas' consumers create themselves again
// once the stream is back. It checks every streamCheckInterval, and after a
// failed publish (kickStream), but never more often.
func (a *Agent) streamLoop() {
	stream, err := bus.ChangeStream(a.cfg.DC)
	if err != nil {
		a.log.Error("change stream", "error", err)
		return
	}
	tick := time.NewTicker(streamCheckInterval)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		case <-a.streamKick:
			if wait := streamCheckInterval - time.Since(last); wait > 0 && !retry.Sleep(a.ctx, wait) {
				return
			}
		}
		last = time.Now()
		a.ensureStream(stream)
	}
}

// ensureStream creates the change-log stream if it does not exist.
func (a *Agent) ensureStream(stream string) {
	ctx, cancel := context.WithTimeout(a.ctx, streamCheckInterval)
	defer cancel()
	_, err := a.cfg.Bus.StreamLastSeq(ctx, stream)
	if !errors.Is(err, bus.ErrNoStream) {
		return
	}
	a.log.Warn("the change-log stream is gone; creating it again", "stream", stream)
	if err := a.cfg.Bus.EnsureChangeStream(ctx, a.cfg.Stream); err != nil {
		a.log.Warn("cannot create the change-log stream; will retry", "stream", stream, "error", err)
		return
	}
	a.log.Info("change-log stream created again", "stream", stream)
}

// kickStream asks streamLoop to check the stream soon (a publish failed).
func (a *Agent) kickStream() {
	select {
	case a.streamKick <- struct{}{}:
	default:
	}
}
