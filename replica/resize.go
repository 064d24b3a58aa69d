package replica

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// Resize fills. Every replica of a resize's target shard fills itself:
//
//  1. It records S, the change stream's last sequence (and, per remote DC,
//     the last sequence of that DC's copy), after this store applies remote
//     changes to the target: from then on nothing it must see is skipped.
//  2. From one replica O of every source shard it copies the records that
//     move to the target (VDUMP with a SHARDS/TARGET filter), after O has
//     applied everything of its peers and of the remote DCs up to the
//     recorded sequences, and ingests them as SST files (store.Shard.Ingest never
//     overwrites a newer version).
//  3. It tails every source shard's change log from S+1, applying with LWW
//     the changes of keys that move to the target, and reports "tailing".
//     The master switches the layout once every target replica tails.
//  4. After the switch each source replica fences off the keys it gave
//     away (it answers MOVED for them); the fill asks every source replica
//     for its fence (VFENCE) and waits until the replica published its
//     change log up to the fence and the tail applied it all. Then it
//     reports "drained"; once every target replica has, the resize ends.
//
// A fill that restarts repeats the copy unless it was complete (meta
// record), and resumes its tails (durable consumers) either way.

const (
	fillDumpPage   = 10000
	fillIngestSize = 8 << 20 // bytes of records per SST ingested (writes to the shard wait while one is ingested)
	fillBarrier    = 30 * time.Second
	fillPoll       = 50 * time.Millisecond
)

// filler fills one target shard replica of one resize.
type filler struct {
	a   *Agent
	ref topology.ShardRef
	sh  Shard
	rid uint64
	log hclog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	status topology.Fill
	tails  map[uint32]Consumer
}

func newFiller(a *Agent, ref topology.ShardRef, sh Shard, rid uint64) *filler {
	return &filler{a: a, ref: ref, sh: sh, rid: rid,
		log:    a.log.Named("fill").With("shard", ref.String(), "resize", rid),
		status: topology.Fill{Shard: ref.String(), Resize: rid, Phase: topology.FillCopying},
		tails:  map[uint32]Consumer{},
	}
}

func (f *filler) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	f.cancel = cancel
	f.wg.Add(1)
	go f.run(ctx)
}

// stop ends the fill. With done (the resize ended or was abandoned) it also
// deletes the tails' consumers and the fill's meta records.
func (f *filler) stop(done bool) {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	tails := f.tails
	f.tails = map[uint32]Consumer{}
	f.mu.Unlock()
	stream, _ := bus.ChangeStream(f.a.cfg.DC)
	for src, c := range tails {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Shutdown(ctx)
		if done {
			_ = f.a.cfg.Bus.DeleteConsumer(ctx, stream, f.tailDurable(src))
		}
		cancel()
	}
	if done {
		// A dropped (closed) shard took its records with it.
		if err := f.sh.ClearFillMark(f.rid); err != nil && !errors.Is(err, store.ErrClosed) {
			f.log.Warn("fill record not removed", "resize", f.rid, "error", err)
		}
	}
}

// report returns the fill's progress for the heartbeat.
func (f *filler) report() topology.Fill {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *filler) setPhase(phase string) {
	f.mu.Lock()
	f.status.Phase, f.status.Error = phase, ""
	f.mu.Unlock()
	f.log.Info("fill phase", "phase", phase)
}

func (f *filler) setErr(err error) {
	f.mu.Lock()
	f.status.Error = err.Error()
	f.mu.Unlock()
}

func (f *filler) addCopied(keys int, bytes int64) {
	f.mu.Lock()
	f.status.Keys += uint64(keys)
	f.status.Bytes += uint64(bytes)
	f.mu.Unlock()
	f.a.cfg.Observer.Copied(CopyResize, f.ref.Keyspace, f.ref.Shard, keys, bytes)
}

// resize returns the keyspace and its resize as the agent sees them now,
// or nil if the resize is over.
func (f *filler) resize() (*topology.Keyspace, *topology.Resize) {
	t := f.a.currentTopology()
	if t == nil {
		return nil, nil
	}
	ks, ok := t.Keyspaces[f.ref.Keyspace]
	if !ok || ks.Resize == nil || ks.Resize.ID != f.rid {
		return nil, nil
	}
	return ks, ks.Resize
}

// sourceReplicas returns the stores of source shard src in the old layout.
func sourceReplicas(ks *topology.Keyspace, r *topology.Resize, src uint32) []string {
	if r.Phase == topology.PhaseCopy {
		return ks.Placement[src]
	}
	return r.Placement[src]
}

func (f *filler) run(ctx context.Context) {
	defer f.wg.Done()
	b := newBackoff()
	for ctx.Err() == nil {
		err := f.fill(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		f.log.Warn("fill failed; will retry", "error", err)
		f.setErr(err)
		if !b.Wait(ctx, nil) {
			return
		}
	}
}

// fill runs the steps of the fill that are not done yet.
func (f *filler) fill(ctx context.Context) error {
	ks, r := f.resize()
	if r == nil {
		return nil
	}
	startSeq, copied, err := f.sh.FillMark(f.rid)
	if err != nil {
		return err
	}
	if !copied {
		if startSeq, err = f.copyAll(ctx, ks, r); err != nil {
			return err
		}
		if err := f.sh.SetFillMark(f.rid, startSeq); err != nil {
			return err
		}
	}
	if err := f.startTails(ctx, r, startSeq); err != nil {
		return err
	}
	if err := f.waitTailsCaughtUp(ctx, r); err != nil {
		return err
	}
	f.setPhase(topology.FillTailing)
	// Wait for the switch.
	for {
		ks, r = f.resize()
		if r == nil {
			return nil
		}
		if r.Phase == topology.PhaseSwitched {
			break
		}
		if !retry.Sleep(ctx, fillPoll) {
			return ctx.Err()
		}
	}
	if err := f.drainSources(ctx, ks, r); err != nil {
		return err
	}
	f.setPhase(topology.FillDrained)
	return nil
}

// copyAll records the stream positions, then copies the moving keys of
// every source shard. It returns the change-stream sequence to tail after.
func (f *filler) copyAll(ctx context.Context, ks *topology.Keyspace, r *topology.Resize) (uint64, error) {
	f.mu.Lock()
	f.status.Keys, f.status.Bytes, f.status.Phase = 0, 0, topology.FillCopying
	f.mu.Unlock()
	stream, err := bus.ChangeStream(f.a.cfg.DC)
	if err != nil {
		return 0, err
	}
	startSeq, err := f.a.cfg.Bus.StreamLastSeq(ctx, stream)
	if err != nil {
		return 0, err
	}
	remoteSeq := map[string]uint64{}
	for _, rdc := range f.a.remoteDCs() {
		src, err := bus.SourceStream(f.a.cfg.DC, rdc)
		if err != nil {
			return 0, err
		}
		if remoteSeq[rdc], err = f.a.cfg.Bus.StreamLastSeq(ctx, src); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for _, src := range r.Sources() {
		if err := f.copySource(ctx, ks, r, src, stream, startSeq, remoteSeq); err != nil {
			return 0, fmt.Errorf("copy from shard %d: %w", src, err)
		}
	}
	st := f.report()
	secs := time.Since(start).Seconds()
	f.log.Info("copied moving keys", "keys", st.Keys, "bytes", st.Bytes, "took", time.Since(start).String(),
		"mb_per_s", fmt.Sprintf("%.1f", float64(st.Bytes)/1e6/max(secs, 1e-9)))
	return startSeq, nil
}

// copySource copies from the first replica of src that passes the barrier
// and answers the dump.
func (f *filler) copySource(ctx context.Context, ks *topology.Keyspace, r *topology.Resize, src uint32,
	stream string, startSeq uint64, remoteSeq map[string]uint64) error {
	t := f.a.currentTopology()
	var errs []error
	for _, id := range sourceReplicas(ks, r, src) {
		st, ok := t.Stores[id]
		if !ok || !st.Healthy || st.Addr == "" {
			errs = append(errs, fmt.Errorf("%s: not healthy", id))
			continue
		}
		if err := f.barrier(ctx, ks, r, src, id, stream, startSeq, remoteSeq); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		if err := f.dump(ctx, st.Addr, r, src); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		return nil
	}
	return fmt.Errorf("no source replica could be copied: %w", errors.Join(errs...))
}

// barrier waits until replica id of src has applied everything its peers
// published up to startSeq and every remote DC's changes up to remoteSeq,
// so its copy holds every write this fill's tails and appliers will not
// bring.
func (f *filler) barrier(ctx context.Context, ks *topology.Keyspace, r *topology.Resize, src uint32, id string,
	stream string, startSeq uint64, remoteSeq map[string]uint64) error {
	type check struct {
		stream, durable string
		seq             uint64
	}
	var checks []check
	srcRef := topology.ShardRef{Keyspace: f.ref.Keyspace, Shard: src}
	for _, peer := range sourceReplicas(ks, r, src) {
		if peer != id {
			checks = append(checks, check{stream, peerDurable(id, srcRef, peer), startSeq})
		}
	}
	for rdc, seq := range remoteSeq {
		s, err := bus.SourceStream(f.a.cfg.DC, rdc)
		if err != nil {
			return err
		}
		checks = append(checks, check{s, f.a.cfg.CrossDC.Durable(id, rdc, f.ref.Keyspace), seq})
	}
	deadline := time.Now().Add(fillBarrier)
	for _, c := range checks {
		for {
			ok, err := f.a.cfg.Bus.ConsumerPassed(ctx, c.stream, c.durable, c.seq)
			if err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				if err != nil {
					return fmt.Errorf("replica has not applied %s up to %d: %w", c.durable, c.seq, err)
				}
				return fmt.Errorf("replica has not applied %s up to %d", c.durable, c.seq)
			}
			if !retry.Sleep(ctx, fillPoll) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// dump copies the records of src that move to this target from the store
// at addr, page by page, and ingests them in large sorted runs.
func (f *filler) dump(ctx context.Context, addr string, r *topology.Resize, src uint32) error {
	dc, err := f.a.cfg.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer func() { _ = dc.Close() }()
	var (
		run     []lww.Change
		size    int
		limiter *rate.Limiter
	)
	if r := f.a.cfg.FillRate; r > 0 {
		// A burst of at most 1 MiB (or one second's worth, if less): the
		// copy runs at the rate from its start.
		limiter = rate.NewLimiter(rate.Limit(r), int(max(1, min(r, fillPageBytes))))
	}
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		res, err := f.sh.Ingest(ctx, run)
		if err != nil {
			return err
		}
		f.addCopied(len(run), res.Bytes)
		run, size = run[:0], 0
		dc.Reset() // the run's keys and records are no longer referenced
		return nil
	}
	// The pages stay in the arena (Retain) until their run is ingested.
	req := peerclient.DumpRequest{Keyspace: f.ref.Keyspace, Shard: src, Limit: fillDumpPage,
		Shards: r.To, Target: f.ref.Shard, Retain: true}
	err = dc.Dump(ctx, req, func(p peerclient.DumpPage) error {
		pageBytes := 0
		for _, ch := range p.Changes {
			run = append(run, ch)
			n := len(ch.Key) + len(ch.Record.Value) + 32
			size += n
			pageBytes += n
		}
		if limiter != nil {
			if err := waitBytes(ctx, limiter, pageBytes); err != nil {
				return err
			}
		}
		if size >= fillIngestSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// tailDurable names the consumer with which this fill tails source src.
func (f *filler) tailDurable(src uint32) string {
	name := fmt.Sprintf("f_%s_%s_%d_%d_%d", f.a.cfg.Store, f.ref.Keyspace, f.ref.Shard, src, f.rid)
	if len(name) <= lww.MaxNameLen {
		return name
	}
	return "f_" + strconv.FormatUint(xxhash.Sum64String(name), 36)
}

// startTails starts (or resumes) one consumer per source shard, from
// startSeq+1 of the change stream.
func (f *filler) startTails(ctx context.Context, r *topology.Resize, startSeq uint64) error {
	stream, err := bus.ChangeStream(f.a.cfg.DC)
	if err != nil {
		return err
	}
	for _, src := range r.Sources() {
		f.mu.Lock()
		_, running := f.tails[src]
		f.mu.Unlock()
		if running {
			continue
		}
		filter, err := bus.ChangeSubjectsOfShard(f.a.cfg.DC, f.ref.Keyspace, src)
		if err != nil {
			return err
		}
		src := src
		c, err := f.a.cfg.Bus.NewConsumer(bus.ConsumerConfig{
			Stream: stream, Durable: f.tailDurable(src), FilterSubject: filter,
			StartSeq: startSeq + 1, Logger: f.log, Batch: 1024,
		}, func(ctx context.Context, msgs []bus.Delivered) error { return f.applyTail(ctx, r.To, src, msgs) })
		if err != nil {
			return err
		}
		if err := c.Start(ctx); err != nil {
			return err
		}
		f.mu.Lock()
		f.tails[src] = c
		f.mu.Unlock()
	}
	return nil
}

// applyTail applies the changes of a source's log that move to the target.
func (f *filler) applyTail(ctx context.Context, shards int, src uint32, msgs []bus.Delivered) error {
	var changes []lww.Change
	for _, m := range msgs {
		ch, err := lww.DecodeChange(m.Data)
		if err != nil {
			f.log.Error("skipping undecodable change", "subject", m.Subject, "error", err)
			continue
		}
		if topology.ShardOf(ch.Key, shards) != f.ref.Shard {
			continue
		}
		changes = append(changes, ch)
	}
	// No cursor: the tail resumes from its durable consumer's position.
	for len(changes) > 0 {
		n := min(len(changes), store.MaxBatchWrites)
		if _, err := f.sh.ApplyRemote(ctx, "fill:"+strconv.FormatUint(uint64(src), 10), 0, changes[:n]); err != nil {
			return err
		}
		changes = changes[n:]
	}
	return nil
}

// waitTailsCaughtUp waits until every tail handled the change stream up to
// its last sequence when the wait began.
func (f *filler) waitTailsCaughtUp(ctx context.Context, r *topology.Resize) error {
	stream, err := bus.ChangeStream(f.a.cfg.DC)
	if err != nil {
		return err
	}
	last, err := f.a.cfg.Bus.StreamLastSeq(ctx, stream)
	if err != nil {
		return err
	}
	for _, src := range r.Sources() {
		if err := f.waitTail(ctx, stream, src, last); err != nil {
			return err
		}
	}
	return nil
}

func (f *filler) waitTail(ctx context.Context, stream string, src uint32, seq uint64) error {
	for {
		ok, err := f.a.cfg.Bus.ConsumerPassed(ctx, stream, f.tailDurable(src), seq)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if !retry.Sleep(ctx, fillPoll) {
			return ctx.Err()
		}
	}
}

// drainSources waits, for every replica of every source shard, until the
// replica fenced off the moved keys, published its log up to the fence,
// and the tail applied it.
func (f *filler) drainSources(ctx context.Context, ks *topology.Keyspace, r *topology.Resize) error {
	stream, err := bus.ChangeStream(f.a.cfg.DC)
	if err != nil {
		return err
	}
	for _, src := range r.Sources() {
		for _, id := range sourceReplicas(ks, r, src) {
			if err := f.drainReplica(ctx, r, src, id); err != nil {
				return fmt.Errorf("source %d on %s: %w", src, id, err)
			}
		}
		last, err := f.a.cfg.Bus.StreamLastSeq(ctx, stream)
		if err != nil {
			return err
		}
		if err := f.waitTail(ctx, stream, src, last); err != nil {
			return err
		}
	}
	return nil
}

// drainReplica waits until replica id of src answers VFENCE for the switch
// with its whole log up to the fence published. A replica that is down is
// skipped with a warning: what it accepted before the switch and did not
// publish reaches the target only if it comes back before the resize ends.
func (f *filler) drainReplica(ctx context.Context, r *topology.Resize, src uint32, id string) error {
	var pc Peer // one connection for the whole wait
	defer func() {
		if pc != nil {
			_ = pc.Close()
		}
	}()
	for {
		t := f.a.currentTopology()
		st, ok := t.Stores[id]
		if !ok || !st.Healthy || st.Addr == "" {
			f.log.Warn("source replica is down; not waiting for its fence", "source_shard", src, "store", id)
			return nil
		}
		var res []int64
		var err error
		if pc == nil || pc.Broken() {
			if pc != nil {
				_ = pc.Close()
			}
			pc, err = f.a.cfg.Dial(ctx, st.Addr)
		}
		if err == nil {
			// [fence, first unpublished]: everything up to the fence is
			// published once the first unpublished index is past it.
			res, err = pc.Ints(f.ref.Keyspace, src, "VFENCE", strconv.FormatUint(r.Switched, 10))
			if err == nil && len(res) != 2 {
				err = fmt.Errorf("%w: VFENCE reply %v", store.ErrCorrupt, res)
			}
		}
		if err == nil && res[1] > res[0] {
			return nil
		}
		if err != nil {
			f.log.Debug("no fence yet", "source_shard", src, "store", id, "error", err)
		}
		if !retry.Sleep(ctx, fillPoll) {
			return ctx.Err()
		}
	}
}

// fillPageBytes bounds the burst of a paced copy (bytes).
const fillPageBytes = 1 << 20

// waitBytes waits until the limiter allows n bytes, in chunks no larger
// than its burst.
func waitBytes(ctx context.Context, l *rate.Limiter, n int) error {
	for n > 0 {
		c := min(n, l.Burst())
		if err := l.WaitN(ctx, c); err != nil {
			return err
		}
		n -= c
	}
	return nil
}
