package replica

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/topology"
)

// Polling bounds of an ackTracker: it looks again after ackPollMin while
// the peers make progress, backing off to ackPollMax while they do not.
const (
	ackPollMin = time.Millisecond
	ackPollMax = 10 * time.Millisecond
)

// ackTracker follows, for one shard, how far the other replicas have
// applied this store's change subject, on behalf of every write waiting
// for them (ACK replicated, WAIT) at once. One goroutine polls while
// anything waits: it reads the subject's last message once for all the
// writes that arrived since it last looked (they were all published
// before, so that message is at or past theirs) and asks each peer's
// consumer whether it passed it, so the JetStream requests grow with the
// polls, not with the writes.
type ackTracker struct {
	a      *Agent
	ref    topology.ShardRef
	stream string
	subj   string
	wake   chan struct{} // capacity 1: a waiter arrived

	mu      sync.Mutex
	fresh   []*ackWaiter      // not yet given a target
	waiting []*ackWaiter      // with a target stream sequence
	floor   map[string]uint64 // per peer: a sequence its consumer passed
}

// ackWaiter is one write's wait: want of peers must pass target.
type ackWaiter struct {
	peers  []string
	want   int
	target uint64
	got    int   // peers that passed target so far
	err    error // set when no target could be read
	gone   bool  // the caller stopped waiting
	done   chan struct{}
}

// waitApplied waits until want of peers applied everything this store
// published on ref's change subject so far, and returns how many had.
func (a *Agent) waitApplied(ctx context.Context, ref topology.ShardRef, peers []string, index uint64, want int) (int, error) {
	wt := &ackWaiter{peers: peers, want: want, done: make(chan struct{})}
	t, err := a.ackTrackerFor(ref, wt)
	if err != nil {
		return 0, err
	}
	select {
	case <-wt.done:
		if wt.err != nil {
			return 0, fmt.Errorf("%w: log index %d: %w", ErrNotReplicated, index, wt.err)
		}
		return wt.got, nil
	case <-ctx.Done():
		got, ok := t.forget(wt)
		if ok {
			return got, nil
		}
		return got, fmt.Errorf("%w: log index %d: %d of %d replicas: %w", ErrNotReplicated, index, got, want, context.Cause(ctx))
	}
}

// ackTrackerFor registers wt with ref's tracker, starting one if none runs.
func (a *Agent) ackTrackerFor(ref topology.ShardRef, wt *ackWaiter) (*ackTracker, error) {
	a.ackMu.Lock()
	defer a.ackMu.Unlock()
	t := a.ackTrackers[ref]
	if t == nil {
		stream, err := bus.ChangeStream(a.cfg.DC)
		if err != nil {
			return nil, err
		}
		subj, err := bus.ChangeSubject(a.cfg.DC, ref.Keyspace, ref.Shard, a.cfg.Store)
		if err != nil {
			return nil, err
		}
		t = &ackTracker{a: a, ref: ref, stream: stream, subj: subj,
			wake: make(chan struct{}, 1), floor: map[string]uint64{}}
		if !a.routines.Go(t.run) {
			return nil, fmt.Errorf("%w: the agent is stopping", ErrNotReplicated)
		}
		if a.ackTrackers == nil {
			a.ackTrackers = map[topology.ShardRef]*ackTracker{}
		}
		a.ackTrackers[ref] = t
	}
	t.mu.Lock()
	t.fresh = append(t.fresh, wt)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return t, nil
}

// forget removes wt, whose caller gave up, and returns how many peers had
// passed its target and whether that was enough after all.
func (t *ackTracker) forget(wt *ackWaiter) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	wt.gone = true
	is := func(w *ackWaiter) bool { return w == wt }
	t.fresh = slices.DeleteFunc(t.fresh, is)
	t.waiting = slices.DeleteFunc(t.waiting, is)
	return wt.got, wt.err == nil && wt.got >= wt.want
}

// run polls until nothing waits (or the agent stops), then unregisters.
func (t *ackTracker) run() {
	ctx := t.a.ctx
	delay := ackPollMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if t.idle() {
			return
		}
		progress := t.target(ctx)
		if t.poll(ctx) {
			progress = true
		}
		if progress {
			delay = ackPollMin
		} else {
			delay = min(2*delay, ackPollMax)
		}
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			t.failAll(ctx)
			return
		case <-t.wake:
			delay = ackPollMin
		case <-timer.C:
		}
	}
}

// idle unregisters the tracker when nothing waits and reports whether it
// did (the goroutine then ends; the next waiter starts a new one).
func (t *ackTracker) idle() bool {
	t.a.ackMu.Lock()
	defer t.a.ackMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fresh) > 0 || len(t.waiting) > 0 {
		return false
	}
	delete(t.a.ackTrackers, t.ref)
	return true
}

// target gives the waiters that arrived since the last look the sequence
// of the subject's last message, and reports whether there were any.
func (t *ackTracker) target(ctx context.Context) bool {
	t.mu.Lock()
	fresh := t.fresh
	t.fresh = nil
	t.mu.Unlock()
	if len(fresh) == 0 {
		return false
	}
	m, err := t.a.cfg.Bus.LastOnSubject(ctx, t.stream, t.subj)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, wt := range fresh {
		if wt.gone {
			continue
		}
		if err != nil {
			wt.err = err
			close(wt.done)
			continue
		}
		wt.target = m.StreamSeq
		t.waiting = append(t.waiting, wt)
	}
	return true
}

// poll asks the consumers of the peers someone waits for whether they
// passed the highest target waited for (else the lowest), releases the
// waiters that have enough peers, and reports whether any peer moved.
func (t *ackTracker) poll(ctx context.Context) bool {
	t.mu.Lock()
	var lo, hi uint64
	need := map[string]bool{}
	for _, wt := range t.waiting {
		if lo == 0 || wt.target < lo {
			lo = wt.target
		}
		hi = max(hi, wt.target)
		for _, p := range wt.peers {
			need[p] = true
		}
	}
	floor := make(map[string]uint64, len(need))
	for p := range need {
		floor[p] = t.floor[p]
	}
	t.mu.Unlock()

	seqs := []uint64{hi}
	if lo < hi {
		seqs = append(seqs, lo)
	}
	moved := false
	for p, f := range floor {
		durable := peerDurable(p, t.ref, t.a.cfg.Store)
		for _, seq := range seqs {
			if f >= seq {
				break
			}
			if ok, _ := t.a.cfg.Bus.ConsumerPassed(ctx, t.stream, durable, seq); ok {
				floor[p], moved = seq, true
				break
			}
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for p, f := range floor {
		t.floor[p] = max(t.floor[p], f)
	}
	kept := t.waiting[:0]
	for _, wt := range t.waiting {
		wt.got = 0
		for _, p := range wt.peers {
			if t.floor[p] >= wt.target {
				wt.got++
			}
		}
		if wt.got >= wt.want {
			close(wt.done)
			continue
		}
		kept = append(kept, wt)
	}
	clear(t.waiting[len(kept):])
	t.waiting = kept
	return moved
}

// failAll ends every wait when the agent stops.
func (t *ackTracker) failAll(ctx context.Context) {
	t.a.ackMu.Lock()
	defer t.a.ackMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, wt := range append(t.fresh, t.waiting...) {
		wt.err = context.Cause(ctx)
		close(wt.done)
	}
	t.fresh, t.waiting = nil, nil
	delete(t.a.ackTrackers, t.ref)
}
