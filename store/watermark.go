package store

import (
	"math"
	"time"
)

// The tombstone purge watermark (Shard.SetPurgeWatermark) is computed by
// the replication layers from one rule, for in-DC peers (W(P)) and remote
// DCs (W(D)) alike: a source's mark advances to one second before the time
// it was asked whenever, asked at that time, the source had nothing left to
// apply here; it never goes back. A shard may purge tombstones dead before
// the lowest mark of its sources, less the event-time guard (MaxFuture: a
// write's event time may lead its acceptance by that much).

// markSlack is how far behind the time asked a mark advances.
const markSlack = time.Second

// AdvanceMark returns a source's new mark: prev, or asked less one second
// if the source was idle (nothing pending) when asked and that is later.
// Times are Unix nanoseconds.
func AdvanceMark(prev int64, idle bool, asked int64) int64 {
	if w := asked - int64(markSlack); idle && w > prev {
		return w
	}
	return prev
}

// PurgeBound returns the purge watermark the marks allow: their minimum
// less maxFuture, or math.MaxInt64 less maxFuture without marks. A source
// never seen idle has mark 0.
func PurgeBound(marks []int64, maxFuture time.Duration) int64 {
	low := int64(math.MaxInt64)
	for _, m := range marks {
		low = min(low, m)
	}
	return low - int64(maxFuture)
}
