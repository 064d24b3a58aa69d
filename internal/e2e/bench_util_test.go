package e2e

import (
	"context"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

// acked is an acknowledged write a lag checker waits to see elsewhere.
type acked struct {
	key     []byte
	version lww.Version
	index   uint64 // in the origin shard's change log
	at      time.Time
}

// ackHeap orders acknowledged writes by change-log index.
type ackHeap []acked

func (h ackHeap) Len() int           { return len(h) }
func (h ackHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h ackHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ackHeap) Push(x any)        { *h = append(*h, x.(acked)) }
func (h *ackHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pace hands out write tokens 0..n-1 on tokens so that, at any time t after
// start, about t*rate have been released (ticks lost to a busy CPU are made
// up on the next one); it closes tokens when done or when ctx ends.
func pace(ctx context.Context, tokens chan<- int, start time.Time, n, rate int) {
	defer close(tokens)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for sent < n {
		due := min(int(time.Since(start).Seconds()*float64(rate))+1, n)
		for ; sent < due; sent++ {
			select {
			case tokens <- sent:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}
