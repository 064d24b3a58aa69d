package replica

import (
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// Catch-up: a new or restarted replica serves once it replayed every
// peer's change log. A peer counts as replayed once its consumer delivered
// the last message pending when it was fetched, or has been idle for the
// catch-up idle time (CatchUpIdle) since its latest batch, or since the
// watch started if no batch came.

// replayedPeers returns the pending peers that count as replayed at now:
// those whose latest batch (lastBatch; start if none) is at least idle old.
func replayedPeers(pending map[string]bool, lastBatch map[string]time.Time, start, now time.Time, idle time.Duration) []string {
	var out []string
	for peer := range pending {
		last, ok := lastBatch[peer]
		if !ok {
			last = start
		}
		if now.Sub(last) >= idle {
			out = append(out, peer)
		}
	}
	return out
}

// drainsPeer reports whether a delivered batch ends the peer's backlog:
// its last message had nothing pending behind it.
func drainsPeer(msgs []bus.Delivered) bool {
	return len(msgs) > 0 && msgs[len(msgs)-1].Pending == 0
}
