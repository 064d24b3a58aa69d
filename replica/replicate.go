package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Headers carried by every change-log message (see package wire).
const (
	hdrIndex = wire.HeaderIndex
	hdrStore = wire.HeaderStore
	hdrDC    = wire.HeaderDC
	hdrEpoch = wire.HeaderEpoch
)

// shardWorker replicates one shard: it publishes the shard's change log and
// applies the change logs of the shard's other replicas.
type shardWorker struct {
	a     *Agent
	sh    Shard
	ref   topology.ShardRef
	peers []string
	// departing are peers that left the placement: their last changes are
	// applied (farewell), but the shard does not wait for them to serve.
	departing []string
	// leaving: the shard itself left this store; the worker only publishes
	// the rest of the change log, then has the agent drop the shard.
	leaving bool
	// resume: the replica was caught up under the previous worker and only
	// the peers changed, so it keeps serving while the consumers restart.
	resume bool
	top    *topology.Topology
	log    hclog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// peerWM holds W(P) per peer (see watermark.go); owned by the agent's
	// watermark loop.
	peerWM map[string]int64

	mu        sync.Mutex
	consumers []Consumer
	pending   map[string]bool // peers whose log is not replayed yet
	lastBatch map[string]time.Time
}

func newShardWorker(a *Agent, sh Shard, ref topology.ShardRef, peers, departing []string, t *topology.Topology) *shardWorker {
	return &shardWorker{
		a: a, sh: sh, ref: ref, peers: peers, departing: departing, top: t,
		log:       a.log.Named("replica").With("shard", ref.String()),
		pending:   map[string]bool{},
		peerWM:    map[string]int64{},
		lastBatch: map[string]time.Time{},
	}
}

func (w *shardWorker) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	w.cancel = cancel
	if w.leaving {
		w.wg.Add(2)
		go w.publishLoop(ctx)
		go w.awaitPublished(ctx)
		return
	}
	if len(w.peers) > 0 && !w.resume {
		w.sh.SetServing(false)
	}
	w.wg.Add(2 + len(w.departing))
	go w.publishLoop(ctx)
	go w.replicate(ctx)
	for _, p := range w.departing {
		go w.farewell(ctx, p)
	}
}

// allPeers lists the peers the worker consumes: the placement's and the
// departing ones.
func (w *shardWorker) allPeers() []string {
	out := append(slices.Clone(w.peers), w.departing...)
	slices.Sort(out)
	return slices.Compact(out)
}

// awaitPublished waits until a leaving shard's change log is all published
// and has the agent drop the shard.
func (w *shardWorker) awaitPublished(ctx context.Context) {
	defer w.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if first, last := w.sh.LogBounds(); first > last {
			w.a.routines.Go(func() { w.a.left(w.ref, w) })
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *shardWorker) stop() {
	w.cancel()
	w.wg.Wait()
	for _, p := range w.allPeers() {
		w.a.cfg.Observer.PeerStopped(w.ref.Keyspace, w.ref.Shard, p)
	}
	w.mu.Lock()
	cs := w.consumers
	w.consumers = nil
	w.mu.Unlock()
	for _, c := range cs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Shutdown(ctx)
		cancel()
	}
}

// publishLoop drains the shard's change log to JetStream and trims what
// JetStream acknowledged. It never drops an entry: on error it retries the
// same entries (the message id makes a retry idempotent).
func (w *shardWorker) publishLoop(ctx context.Context) {
	defer w.wg.Done()
	subj, err := bus.ChangeSubject(w.a.cfg.DC, w.ref.Keyspace, w.ref.Shard, w.a.cfg.Store)
	if err != nil {
		w.log.Error("change subject", "error", err)
		return
	}
	backoff := newBackoff()
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	defer w.drain(subj)
	for ctx.Err() == nil {
		first, last := w.sh.LogBounds()
		if first > last {
			select {
			case <-ctx.Done():
			case <-w.sh.Logged():
			case <-idle.C:
			}
			continue
		}
		if err := w.publishFrom(ctx, subj, first); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("change log not published; will retry", "from", first, "error", err)
			w.a.kickStream()
			if !backoff.Wait(ctx, nil) {
				return
			}
			continue
		}
		backoff.Reset()
	}
}

// drain publishes what is left in the change log when the worker stops, so
// a store stopped cleanly leaves nothing only it knows about. Bounded: what
// is not published in time stays in the outbox for the next start.
func (w *shardWorker) drain(subj string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		first, last := w.sh.LogBounds()
		if first > last {
			return
		}
		if err := w.publishFrom(ctx, subj, first); err != nil {
			w.log.Warn("change log not drained; it will be published on restart", "from", first, "error", err)
			return
		}
	}
}

func (w *shardWorker) publishFrom(ctx context.Context, subj string, from uint64) error {
	entries, err := w.sh.ReadLog(from, w.a.cfg.PublishBatch)
	if err != nil || len(entries) == 0 {
		return err
	}
	msgs := make([]bus.Message, len(entries))
	for i, e := range entries {
		data, err := lww.AppendChange(nil, e.Change)
		if err != nil {
			return err
		}
		idx := strconv.FormatUint(e.Index, 10)
		msgs[i] = bus.Message{
			Subject: subj,
			// Unique per process run, shard incarnation, opening of the
			// shard and index: a retry is de-duplicated; index 1 of a new
			// incarnation, or of the shard dropped and created again (a
			// replica that left and came back), is not.
			ID: w.a.runID + "." + w.ref.String() + "." + strconv.FormatUint(w.sh.Epoch(), 10) + "." +
				w.sh.Instance() + "." + idx,
			Header: map[string]string{hdrIndex: idx, hdrStore: w.a.cfg.Store, hdrDC: e.Change.Record.Version.DC,
				hdrEpoch: strconv.FormatUint(w.sh.Epoch(), 10)},
			Data: data,
		}
	}
	acked, perr := w.a.cfg.Bus.PublishBatch(ctx, msgs)
	if acked > 0 {
		if err := w.sh.TrimLog(entries[acked-1].Index + 1); err != nil {
			return err
		}
	}
	return perr
}

// replicate starts one consumer per peer, after checking that the stream
// still holds everything this replica has not applied (else it copies the
// peer first), and marks the shard serving once every peer's log has been
// replayed.
func (w *shardWorker) replicate(ctx context.Context) {
	defer w.wg.Done()
	if len(w.peers) == 0 {
		w.sh.SetServing(true)
		if len(w.departing) == 0 {
			return
		}
	}
	stream, err := bus.ChangeStream(w.a.cfg.DC)
	if err != nil {
		w.log.Error("change stream", "error", err)
		return
	}
	for _, peer := range w.allPeers() {
		if slices.Contains(w.peers, peer) {
			w.mu.Lock()
			w.pending[peer] = true
			w.mu.Unlock()
		}
		for ctx.Err() == nil {
			if err := w.startConsumer(ctx, stream, peer); err != nil {
				w.log.Warn("replication from peer not started; will retry", "peer", peer, "error", err)
				if !retry.Sleep(ctx, time.Second) {
					return
				}
				continue
			}
			break
		}
	}
	w.watchCatchUp(ctx)
}

// watchCatchUp marks peers replayed (replayedPeers; apply marks those whose
// batch drained them) and the shard serving once all peers are.
func (w *shardWorker) watchCatchUp(ctx context.Context) {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		w.mu.Lock()
		for _, peer := range replayedPeers(w.pending, w.lastBatch, start, time.Now(), w.a.cfg.CatchUpIdle) {
			delete(w.pending, peer)
		}
		done := len(w.pending) == 0
		w.mu.Unlock()
		if done {
			w.sh.SetServing(true)
			w.log.Info("caught up with peers", "peers", len(w.peers), "took", time.Since(start).String())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *shardWorker) source(peer string) string { return store.PeerSource(peer) }

// peerDurable names the durable consumer with which store applies peer's
// change log of one shard; long names are hashed to fit a NATS name.
func peerDurable(store string, ref topology.ShardRef, peer string) string {
	name := fmt.Sprintf("r_%s_%s_%d_%s", store, ref.Keyspace, ref.Shard, peer)
	if len(name) <= lww.MaxNameLen {
		return name
	}
	return "r_" + strconv.FormatUint(xxhash.Sum64String(name), 36)
}

func (w *shardWorker) startConsumer(ctx context.Context, stream, peer string) error {
	subj, err := bus.ChangeSubject(w.a.cfg.DC, w.ref.Keyspace, w.ref.Shard, peer)
	if err != nil {
		return err
	}
	empty, err := w.checkGap(ctx, stream, subj, peer)
	if err != nil {
		return err
	}
	if empty {
		// The peer never logged anything this replica could miss.
		w.mu.Lock()
		delete(w.pending, peer)
		w.mu.Unlock()
	}
	durable := peerDurable(w.a.cfg.Store, w.ref, peer)
	if cur, err := w.sh.Cursor(w.source(peer)); err == nil && cur == 0 {
		// Nothing of this peer applied here (a new replica, or one whose
		// data was lost): replay the peer's log from the start of the
		// stream instead of resuming an old consumer's position.
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.a.cfg.Bus.DeleteConsumer(dctx, stream, durable)
		cancel()
		if err != nil && !errors.Is(err, bus.ErrNoConsumer) {
			w.log.Debug("could not reset consumer", "durable", durable, "error", err)
		}
	}
	c, err := w.a.cfg.Bus.NewConsumer(bus.ConsumerConfig{
		Stream: stream, Durable: durable, FilterSubject: subj, Logger: w.log,
		// The stream was lost (NATS lost its data) or the durable deleted:
		// the new consumer starts at the start of the stream, which may not
		// hold what this replica had not applied yet. Check as at start,
		// copying the peer if entries are gone.
		OnRecreate: func(ctx context.Context) error {
			_, err := w.checkGap(ctx, stream, subj, peer)
			return err
		},
	}, func(ctx context.Context, msgs []bus.Delivered) error { return w.apply(ctx, peer, msgs) })
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	w.consumers = append(w.consumers, c)
	w.mu.Unlock()
	return nil
}

// apply applies a batch of a peer's change log with LWW. Order does not
// matter; the cursor keeps the highest index applied.
func (w *shardWorker) apply(ctx context.Context, peer string, msgs []bus.Delivered) error {
	changes := make([]lww.Change, 0, len(msgs))
	var top uint64
	epoch := strconv.FormatUint(w.sh.Epoch(), 10)
	for _, m := range msgs {
		if e, ok := m.Header[hdrEpoch]; ok && e != epoch {
			continue // a change of an earlier incarnation of the keyspace
		}
		ch, err := lww.DecodeChange(m.Data)
		if err != nil {
			w.log.Error("skipping undecodable change", "peer", peer, "stream_seq", m.StreamSeq, "error", err)
			continue
		}
		if idx, err := strconv.ParseUint(m.Header[hdrIndex], 10, 64); err == nil && idx > top {
			top = idx
		}
		changes = append(changes, ch)
	}
	res, err := w.sh.ApplyRemote(ctx, w.source(peer), top, changes)
	if err != nil {
		return err
	}
	w.observeApplied(peer, msgs, changes, res)
	w.mu.Lock()
	w.lastBatch[peer] = time.Now()
	if drainsPeer(msgs) {
		delete(w.pending, peer)
	}
	w.mu.Unlock()
	return nil
}

// checkGap compares this replica's cursor for peer with the oldest entry the
// stream still holds for it. If entries this replica never applied have aged
// out of the stream, it copies the peer's shard first (re-bootstrap), so
// nothing is skipped silently. It reports whether the stream holds nothing
// from the peer.
func (w *shardWorker) checkGap(ctx context.Context, stream, subj, peer string) (bool, error) {
	first, err := w.a.cfg.Bus.FirstOnSubject(ctx, stream, subj, 0)
	if errors.Is(err, bus.ErrNoMessage) {
		return w.checkEmptyGap(ctx, peer)
	}
	if err != nil {
		return false, err
	}
	firstIdx, err := strconv.ParseUint(first.Header[hdrIndex], 10, 64)
	if err != nil {
		return false, fmt.Errorf("replica: change message without index: %w", err)
	}
	cursor, err := w.sh.Cursor(w.source(peer))
	if err != nil {
		return false, err
	}
	if store.OrderAfter(cursor, firstIdx) != store.IndexGap {
		return false, nil // the stream still holds what comes after the cursor
	}
	w.log.Warn("peer's change log no longer holds what this replica missed; copying the peer",
		"peer", peer, "cursor", cursor, "stream_first_index", firstIdx)
	if err := w.bootstrapFrom(ctx, peer); err != nil {
		return false, fmt.Errorf("replica: re-bootstrap from %s: %w", peer, err)
	}
	_, err = w.sh.ApplyRemote(ctx, w.source(peer), firstIdx-1, nil)
	return false, err
}

// checkEmptyGap handles a peer of which the stream holds nothing: either it
// published nothing yet, or everything it published aged out. The peer's
// own log bounds (VLOGINFO: the first entry not yet published and trimmed,
// and the last) tell: if it published entries past this replica's cursor,
// they are lost to the stream and the peer is copied. It reports whether
// there is nothing to replay.
func (w *shardWorker) checkEmptyGap(ctx context.Context, peer string) (bool, error) {
	cursor, err := w.sh.Cursor(w.source(peer))
	if err != nil {
		return false, err
	}
	first, last, err := w.peerLogBounds(ctx, peer)
	if err != nil {
		// Unreachable peer: it cannot be copied now; its writes, if any,
		// arrive through the stream once it publishes again.
		w.log.Debug("peer log bounds unknown", "peer", peer, "error", err)
		return true, nil
	}
	if store.OrderAfter(cursor, first) != store.IndexGap {
		return true, nil // whatever it logged after the cursor is still to be published
	}
	w.log.Warn("peer logged changes the stream no longer holds; copying the peer",
		"peer", peer, "cursor", cursor, "peer_last_index", last)
	if err := w.bootstrapFrom(ctx, peer); err != nil {
		return false, fmt.Errorf("replica: re-bootstrap from %s: %w", peer, err)
	}
	_, err = w.sh.ApplyRemote(ctx, w.source(peer), last, nil)
	return true, err
}

// newBackoff is the back-off of the replication loops: 50 ms doubling to
// 2 s, jittered.
func newBackoff() *retry.Backoff {
	return &retry.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}
}
