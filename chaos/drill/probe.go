package drill

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/retry"
)

const (
	// probeEvery is how often a probe key is written.
	probeEvery = 500 * time.Millisecond
	// probeTimeout bounds how long a probe is awaited in the other DCs.
	probeTimeout = 15 * time.Second
	// probeCutShort is the least wait of a probe the end of the workload
	// cut short that still counts as unseen.
	probeCutShort = 5 * time.Second
)

// LagSample is one probe: a key written in From at At (drill time) and
// seen in To after Lag, or not within the probe timeout (Seen false).
type LagSample struct {
	At       time.Duration
	From, To string
	Lag      time.Duration
	Seen     bool
}

// prober writes a probe key in one DC every probeEvery (the DCs in turn)
// and measures when each other DC reads it. Probe writes are recorded in
// the history like any other put.
type prober struct {
	w *workload
	// limit ends the wait for probes (with the workload): a probe cut
	// short by it counts as unseen if it waited probeCutShort or more, and
	// is dropped otherwise.
	limit context.Context

	mu      sync.Mutex
	samples []LagSample
}

// run probes until ctx ends and waits for the probes in flight.
func (p *prober) run(ctx context.Context) {
	if len(p.w.dep.dcs) < 2 {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for seq := 0; ; seq++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.probe(ctx, seq)
		}()
		if !retry.Sleep(ctx, probeEvery) {
			return
		}
	}
}

// probe writes probe seq and awaits it in the other DCs.
func (p *prober) probe(ctx context.Context, seq int) {
	w := p.w
	i := seq % len(w.dep.dcs)
	from := w.dep.dcs[i]
	key, value := fmt.Sprintf("probe-%05d", seq), fmt.Sprintf("%s/probe-%d", from.name, seq)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	w.put(pctx, i, from.name+"/probe", key, value, false, 0, 0)
	cancel()
	at := time.Duration(w.since())
	written := time.Now()
	var wg sync.WaitGroup
	for _, to := range w.dep.dcs {
		if to == from {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := LagSample{At: at, From: from.name, To: to.name}
			s.Seen = awaitValue(p.limit, to.client, w.cfg.Keyspace, key, value)
			s.Lag = time.Since(written)
			if !s.Seen && s.Lag < probeCutShort {
				return // written just before the workload ended: no verdict
			}
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
		}()
	}
	wg.Wait()
}

// awaitValue polls key in a DC until it reads value or probeTimeout
// passes.
func awaitValue(ctx context.Context, cl *client.Client, ks, key, value string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	b := retry.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		it, err := cl.Get(rctx, ks, []byte(key))
		rcancel()
		if err == nil && string(it.Value) == value {
			return true
		}
		if !b.Wait(ctx, nil) {
			return false
		}
	}
}

// results returns the samples so far.
func (p *prober) results() []LagSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]LagSample(nil), p.samples...)
}
