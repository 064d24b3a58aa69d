package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// AgentConfig configures the cluster agent of a store.
type AgentConfig struct {
	// DC is the store's datacenter; Store its id (the engine's Node).
	DC    string
	Store string
	// Addr is the RESP address clients and peers dial.
	Addr string
	// Bus is the message bus (ConnBus of the store's NATS connection).
	Bus Bus
	// Shards are the store's shards (EngineShards of its engine).
	Shards Shards
	// Dial connects to the other stores of the DC (re-bootstrap, resize
	// fills, departures); nil: DialPeer without TLS or AUTH.
	Dial   Dial
	Logger hclog.Logger
	// Stream sizes the DC's change-log stream.
	Stream bus.StreamConfig
	// PublishBatch bounds the change-log entries published per round.
	PublishBatch int
	// CatchUpIdle: a peer's log counts as replayed once its consumer has
	// been idle this long (nothing pending to deliver).
	CatchUpIdle time.Duration
	// CrossDC applies the other datacenters' changes (package dc); nil if
	// the DC has no remote DC. The agent starts it, keeps it following the
	// topology and shuts it down.
	CrossDC CrossDC
	// FillRate bounds the bytes per second one resize fill copies (0: as
	// fast as it goes). A lower rate leaves more CPU to client traffic.
	FillRate int64
	// Observer is told of replication events (for metrics); nil: none.
	Observer Observer
}

// DefaultAgentConfig returns an AgentConfig with defaults filled in; b
// becomes its Bus through ConnBus and e its Shards through EngineShards.
func DefaultAgentConfig(dc, id, addr string, b *bus.Conn, e *store.Engine) AgentConfig {
	return AgentConfig{
		DC: dc, Store: id, Addr: addr, Bus: ConnBus(b), Shards: EngineShards(e), Dial: DialPeer(peerclient.Options{}),
		Logger:       hclog.NewNullLogger(),
		Stream:       bus.StreamConfig{DC: dc},
		PublishBatch: 256,
		CatchUpIdle:  500 * time.Millisecond,
	}
}

// Validate reports the first problem with c.
func (c AgentConfig) Validate() error {
	switch {
	case topology.CheckName("dc", c.DC) != nil, topology.CheckName("store", c.Store) != nil:
		return fmt.Errorf("%w: bad dc %q or store %q", ErrInvalidConfig, c.DC, c.Store)
	case c.Addr == "":
		return fmt.Errorf("%w: empty advertised address", ErrInvalidConfig)
	case c.Bus == nil || c.Shards == nil || c.Logger == nil:
		return fmt.Errorf("%w: bus, shards and logger are required", ErrInvalidConfig)
	case c.PublishBatch <= 0 || c.CatchUpIdle <= 0:
		return fmt.Errorf("%w: publish batch and catch-up idle must be positive", ErrInvalidConfig)
	case c.FillRate < 0:
		return fmt.Errorf("%w: negative fill rate", ErrInvalidConfig)
	}
	return nil
}

// CrossDC is cross-DC replication as the agent drives it. Package dc
// implements it (dc.Replicator); whoever wires a store process joins the
// two.
type CrossDC interface {
	// RemoteDCs returns the remote DCs whose changes this store applies
	// now (the heartbeat reports them). It must not block.
	RemoteDCs() []string
	// Start prepares the local copies of the remote DCs' change streams.
	Start(ctx context.Context) error
	// Follow makes t the local topology remote changes are routed through.
	Follow(t *topology.Topology)
	// Reconcile runs the appliers of the keyspaces this store holds shards
	// of under t, and stops the others.
	Reconcile(t *topology.Topology, keyspaces []string)
	// Watermark returns the purge watermark the remote DCs allow.
	Watermark(ctx context.Context) int64
	// Shutdown stops the appliers and waits for them; it is idempotent.
	Shutdown(ctx context.Context) error
	// Durable names the consumer with which store applies remote's
	// changes to keyspace.
	Durable(store, remote, keyspace string) string
}

// Agent joins a store to its DC's cluster: it heartbeats to the master,
// follows the topology (opening the shards placed on this store and dropping
// those of deleted keyspaces), publishes each shard's change log to
// JetStream, and applies the change logs of the shard's other replicas.
type Agent struct {
	cfg AgentConfig
	log hclog.Logger

	mu sync.Mutex
	// shards is the state of every shard the agent works on.
	shards map[topology.ShardRef]*shardState
	// fillList lists the running fills for the heartbeat.
	fillList atomic.Pointer[[]*filler]
	// heldSent are the shards the last full Held list of a heartbeat named;
	// owned by the heartbeat loop.
	heldSent []store.ShardID
	top      atomic.Pointer[topology.Topology]
	purge    atomic.Int64    // the last purge watermark set on the shards
	runID    string          // this process's prefix of change message ids
	topID    string          // the incarnation of the topology followed
	seen     map[string]bool // keyspaces seen in an earlier topology
	version  uint64
	started  bool
	stopped  bool

	ctx    context.Context
	cancel context.CancelFunc
	// routines owns every goroutine of the agent (see goroutines).
	routines goroutines
	watch    Watch
	topoCh   chan *topology.Topology

	// ackMu guards ackTrackers: the shards whose writes wait for other
	// replicas (see acktrack.go); taken before an ackTracker's mu.
	ackMu       sync.Mutex
	ackTrackers map[topology.ShardRef]*ackTracker
	// streamKick wakes streamLoop; capacity 1, coalescing.
	streamKick chan struct{}
}

// NewAgent checks cfg and returns an agent that is not started.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dial == nil {
		cfg.Dial = DialPeer(peerclient.Options{})
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	a := &Agent{
		cfg:    cfg,
		log:    cfg.Logger.Named("agent"),
		shards: map[topology.ShardRef]*shardState{},
		seen:   map[string]bool{},
		topoCh: make(chan *topology.Topology, 1),

		streamKick: make(chan struct{}, 1),
	}
	a.purge.Store(math.MinInt64)
	// Message ids de-duplicate retried publishes of one process. A crash
	// without fsync can reuse log indexes already published; a new run id
	// keeps JetStream from dropping those new writes as duplicates.
	a.runID = cfg.Store + "." + strconv.FormatUint(rand.Uint64(), 36)
	return a, nil
}

// Start creates the change-log stream if needed, starts heartbeating and
// follows the topology. It does not block.
func (a *Agent) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return ErrStarted
	}
	if err := a.cfg.Bus.EnsureChangeStream(ctx, a.cfg.Stream); err != nil {
		return fmt.Errorf("replica: change stream: %w", err)
	}
	if x := a.cfg.CrossDC; x != nil {
		if err := x.Start(ctx); err != nil {
			return fmt.Errorf("replica: cross-DC: %w", err)
		}
	}
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w, err := a.cfg.Bus.WatchTopology(a.ctx, a.cfg.DC, a.onTopology)
	if err != nil {
		a.cancel()
		return fmt.Errorf("replica: watch topology: %w", err)
	}
	a.watch, a.started = w, true
	a.routines.Go(a.heartbeatLoop)
	a.routines.Go(a.reconcileLoop)
	a.routines.Go(a.watermarkLoop)
	a.routines.Go(a.streamLoop)
	a.log.Info("joined cluster", "dc", a.cfg.DC, "store", a.cfg.Store, "addr", a.cfg.Addr)
	return nil
}

// onTopology hands the newest topology to the reconcile loop, dropping an
// older one still waiting.
func (a *Agent) onTopology(doc []byte, _ uint64) {
	t, err := topology.Decode(doc)
	if err != nil {
		a.log.Error("bad topology document", "error", err)
		return
	}
	for {
		select {
		case a.topoCh <- t:
			return
		default:
		}
		select {
		case old := <-a.topoCh:
			if old.Version > t.Version {
				t = old
			}
		default:
		}
	}
}

func (a *Agent) reconcileLoop() {
	for {
		select {
		case <-a.ctx.Done():
			return
		case t := <-a.topoCh:
			a.reconcile(t)
		}
	}
}

// reconcile makes the running shard workers, resize fills, departures and
// cleanups match the topology. It decides under a.mu what to stop, stops
// it with a.mu released (a worker's stop waits for its goroutines), and
// then starts what the topology asks for. A stopped worker is out of the
// agent's state before a.mu is released, so no other worker starts for its
// shard before it has stopped.
func (a *Agent) reconcile(t *topology.Topology) {
	a.mu.Lock()
	st, ok := a.decide(t)
	a.mu.Unlock()
	a.stopAll(st)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	a.follow(t, st)
}

// reconcileStep is what reconcile decided under a.mu.
type reconcileStep struct {
	want map[topology.ShardRef]shardPlan
	// stop are the workers to stop.
	stop []*shardWorker
	// gone are the workers (among stop) of shards no longer placed here:
	// once stopped, their shards leave or are dropped.
	gone []*shardWorker
	// drop are the leaving workers that published their whole change
	// log: once stopped, their shards are dropped.
	drop []*shardWorker
}

// decide records t as the topology followed, plans it and takes out of
// the agent's state the workers it stops. ok is false if t is not to be
// followed (an older topology, or the agent is shut down). a.mu is held.
func (a *Agent) decide(t *topology.Topology) (st reconcileStep, ok bool) {
	if a.stopped {
		return st, false
	}
	for ref, s := range a.shards {
		if s.published != nil {
			st.drop = append(st.drop, s.published)
			s.published = nil
			a.tidy(ref)
		}
	}
	if t.ID != a.topID {
		if a.topID != "" {
			// The topology was lost and rebuilt: follow the new one, but
			// forget which keyspaces were seen, so nothing is dropped
			// because the new topology does not know them (yet).
			a.log.Error("the DC's topology was replaced; not deleting any shard because of it",
				"old_id", a.topID, "new_id", t.ID, "version", t.Version)
			a.seen = map[string]bool{}
			a.version = 0
		}
		a.topID = t.ID
	}
	if t.Version < a.version {
		return st, false // never go back to an older topology
	}
	a.version = t.Version
	a.top.Store(t)
	if x := a.cfg.CrossDC; x != nil {
		x.Follow(t)
	}
	st.want = a.plan(t)
	for ref, s := range a.shards {
		w := s.worker
		if w == nil {
			continue
		}
		p, ok := st.want[ref]
		if ok && w.sh.Epoch() == p.epoch {
			a.noteDepartures(ref, w, p.peers)
		}
		peers := a.withDeparted(ref, p.peers)
		// A different epoch: the keyspace was deleted and created again
		// (possibly between two topologies this agent saw), or the shard
		// number was reused by a later resize.
		cur := workerState{epoch: w.sh.Epoch(), peers: w.allPeers(), serving: w.sh.Serving()}
		if act := nextWorker(cur, ok, p.epoch, peers); act != workerKeep {
			st.stop = append(st.stop, w)
			s.worker = nil
			if act == workerResume {
				s.resume = true
			}
		}
		if !ok {
			s.departed = nil
			st.gone = append(st.gone, w)
		}
	}
	for ref := range st.want {
		if s := a.shard(ref); s.leaving != nil {
			st.stop = append(st.stop, s.leaving) // placed here again
			s.leaving = nil
		}
	}
	for ref := range a.shards {
		a.tidy(ref)
	}
	return st, true
}

// stopAll stops the workers reconcile took out, and drops the shards that
// left; a.mu is not held.
func (a *Agent) stopAll(st reconcileStep) {
	for _, w := range st.stop {
		w.stop()
	}
	for _, w := range st.drop {
		w.stop()
		if err := a.cfg.Shards.DropShard(w.ref.Keyspace, w.ref.Shard); err != nil && !errors.Is(err, store.ErrNoShard) {
			a.log.Error("drop shard that left", "shard", w.ref.String(), "error", err)
			continue
		}
		a.log.Info("dropped shard that left this store", "shard", w.ref.String())
	}
}

// follow starts what the topology asks for once reconcile stopped the
// workers it took out: departures of shards no longer placed here, a
// worker for every shard placed here, fills, cleanups and cross-DC
// appliers. a.mu is held.
func (a *Agent) follow(t *topology.Topology, st reconcileStep) {
	want := st.want
	for _, w := range st.gone {
		// Only a shard placed here under this same topology incarnation
		// leaves (and is dropped once published).
		if w.top.ID != t.ID || !a.leave(t, w.ref, w.sh) {
			a.dropIfDeleted(t, w.ref)
		}
	}
	opened := a.openShards(t, want)
	for ref, p := range want {
		if s := a.shard(ref); s.worker != nil {
			a.setOwner(ref, s.worker.sh, p.owner, t.Version)
			continue
		}
		sh, ok := opened[ref]
		if !ok {
			continue
		}
		a.setOwner(ref, sh, p.owner, t.Version)
		if len(a.remoteDCs()) > 0 || len(p.peers) > 0 {
			// Until the watermark loop has seen the peers and remote DCs
			// caught up, keep every tombstone.
			sh.SetPurgeWatermark(math.MinInt64)
		}
		w := newShardWorker(a, sh, ref, p.peers, a.departedOf(ref), t)
		s := a.state(ref)
		w.resume, s.resume = s.resume, false
		s.worker = w
		w.start(a.ctx)
	}
	a.reconcileFills(t, want)
	a.reconcileCleanups(t, want)
	a.reconcileXDC(t, want)
	a.dropDeleted(t, want)
	a.warnStrays(t, want)
	a.noteUnplaced(t, want)
}

// dropDeleted drops the shards held here, not placed here, whose exact
// incarnation the topology records as deleted. It is the only way a
// keyspace's deletion removes data: a topology that does not know a
// keyspace, or names another incarnation of it, deletes nothing.
func (a *Agent) dropDeleted(t *topology.Topology, want map[topology.ShardRef]shardPlan) {
	for _, id := range a.unwanted(want) {
		ref := topology.ShardRef{Keyspace: id.Keyspace, Shard: id.Shard}
		if a.shard(ref).worker == nil {
			a.dropIfDeleted(t, ref)
		}
	}
}

// unwanted lists the shards held here that the topology does not place
// here and that are not leaving.
func (a *Agent) unwanted(want map[topology.ShardRef]shardPlan) []store.ShardID {
	var out []store.ShardID
	for _, id := range a.cfg.Shards.Shards() {
		ref := topology.ShardRef{Keyspace: id.Keyspace, Shard: id.Shard}
		if _, ok := want[ref]; ok {
			continue
		}
		if !a.shard(ref).isLeaving() {
			out = append(out, id)
		}
	}
	return out
}

// noteUnplaced tells the engine (for INFO) which shards held here the
// topology does not place here, and why.
func (a *Agent) noteUnplaced(t *topology.Topology, want map[topology.ShardRef]shardPlan) {
	un := map[store.ShardID]string{}
	for _, id := range a.unwanted(want) {
		sh, err := a.cfg.Shards.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		ks, ok := t.Keyspaces[id.Keyspace]
		switch {
		case !ok:
			un[id] = fmt.Sprintf("keyspace-unknown-to-topology(epoch-%d)", sh.Epoch())
		case !ks.HasEpoch(sh.Epoch()):
			un[id] = fmt.Sprintf("another-incarnation(epoch-%d-topology-%d)", sh.Epoch(), ks.Epoch)
		default:
			un[id] = "replica-placed-elsewhere"
		}
	}
	for id, why := range un {
		ref := topology.ShardRef{Keyspace: id.Keyspace, Shard: id.Shard}
		if a.shard(ref).unplaced != why && why != "replica-placed-elsewhere" {
			a.log.Warn("holding a shard whose keyspace incarnation the topology does not know; keeping it, not serving it",
				"shard", ref.String(), "reason", why)
		}
	}
	for ref, s := range a.shards {
		s.unplaced = ""
		a.tidy(ref)
	}
	for id, why := range un {
		a.state(topology.ShardRef{Keyspace: id.Keyspace, Shard: id.Shard}).unplaced = why
	}
	a.cfg.Shards.SetUnplaced(un)
}

// warnStrays logs, once each, the shards this store holds on disk that the
// topology does not place here and that no worker handles: typically shards
// that were moved away while this store was down. They are kept (the
// topology may have been rebuilt); their unpublished changes are reported.
func (a *Agent) warnStrays(t *topology.Topology, want map[topology.ShardRef]shardPlan) {
	for _, id := range a.cfg.Shards.Shards() {
		ref := topology.ShardRef{Keyspace: id.Keyspace, Shard: id.Shard}
		if _, ok := want[ref]; ok || a.shard(ref).warned {
			continue
		}
		if a.shard(ref).isLeaving() {
			continue
		}
		if _, ok := t.Keyspaces[ref.Keyspace]; !ok {
			continue
		}
		a.state(ref).warned = true
		var unpublished uint64
		if sh, err := a.cfg.Shards.Shard(id.Keyspace, id.Shard); err == nil {
			if first, last := sh.LogBounds(); last >= first {
				unpublished = last - first + 1
			}
		}
		a.log.Warn("holding a shard the topology does not place here; keeping its files",
			"shard", ref.String(), "unpublished_changes", unpublished)
	}
}

// reconcileXDC runs one cross-DC applier per remote DC and keyspace this
// store holds shards of.
func (a *Agent) reconcileXDC(t *topology.Topology, want map[topology.ShardRef]shardPlan) {
	x := a.cfg.CrossDC
	if x == nil {
		return
	}
	seen := map[string]bool{}
	var keyspaces []string
	for ref := range want {
		if !seen[ref.Keyspace] {
			seen[ref.Keyspace] = true
			keyspaces = append(keyspaces, ref.Keyspace)
		}
	}
	x.Reconcile(t, keyspaces)
}

// remoteDCs returns the remote DCs whose changes this store applies.
func (a *Agent) remoteDCs() []string {
	if a.cfg.CrossDC == nil {
		return nil
	}
	return a.cfg.CrossDC.RemoteDCs()
}

// openShard opens a shard placed here for keyspace incarnation p.epoch. A
// shard left from another incarnation of the same name is dropped first if
// the topology records that incarnation as deleted (the keyspace was deleted
// and created again while this store missed it); otherwise its files are
// set aside, never deleted (the topology may have been lost and rebuilt).
func (a *Agent) openShard(t *topology.Topology, ref topology.ShardRef, p shardPlan) (Shard, error) {
	epoch, layout := p.epoch, p.layout
	sh, err := a.cfg.Shards.Shard(ref.Keyspace, ref.Shard)
	fresh := errors.Is(err, store.ErrNoShard)
	if fresh {
		sh, err = a.cfg.Shards.CreateShardAt(ref.Keyspace, ref.Shard, a.nextLogIndex(ref))
		if errors.Is(err, store.ErrShardExists) {
			sh, err = a.cfg.Shards.Shard(ref.Keyspace, ref.Shard)
		}
	}
	if err != nil {
		return nil, err
	}
	if fresh && sh.Epoch() == 0 {
		// A new shard holds no key of another layout: nothing to clean.
		if err := sh.SetLayout(uint64(layout)); err != nil {
			return nil, err
		}
	}
	if old := sh.Epoch(); old != 0 && old != epoch {
		if t.IsDeleted(ref.Keyspace, old) {
			a.log.Info("dropping shard of a deleted incarnation of the keyspace",
				"shard", ref.String(), "old_epoch", old, "epoch", epoch)
			if err := a.cfg.Shards.DropShard(ref.Keyspace, ref.Shard); err != nil {
				return nil, err
			}
		} else {
			path, err := a.cfg.Shards.SetAside(ref.Keyspace, ref.Shard, "epoch"+strconv.FormatUint(old, 10))
			if err != nil {
				return nil, err
			}
			a.log.Error("the topology places another incarnation of a keyspace whose shard this store holds, "+
				"and does not record the held one as deleted; its files are kept aside",
				"shard", ref.String(), "held_epoch", old, "epoch", epoch, "path", path)
		}
		if sh, err = a.cfg.Shards.CreateShardAt(ref.Keyspace, ref.Shard, a.nextLogIndex(ref)); err != nil {
			return nil, err
		}
		if err := sh.SetLayout(uint64(layout)); err != nil {
			return nil, err
		}
	}
	if sh.Epoch() != epoch {
		if err := sh.SetEpoch(epoch); err != nil {
			return nil, err
		}
	}
	if r, err := sh.Replicas(); err == nil && p.replicas > 0 && r != uint64(p.replicas) {
		if err := sh.SetReplicas(uint64(p.replicas)); err != nil {
			return nil, err
		}
	}
	return sh, nil
}

// nextLogIndex is where a shard created here continues its change log:
// after the last entry this store published for it, if the stream still
// holds one (a replica that left this store and came back, or a keyspace
// deleted and created again). 1 if none or the stream cannot be asked.
func (a *Agent) nextLogIndex(ref topology.ShardRef) uint64 {
	stream, err := bus.ChangeStream(a.cfg.DC)
	if err != nil {
		return 1
	}
	subj, err := bus.ChangeSubject(a.cfg.DC, ref.Keyspace, ref.Shard, a.cfg.Store)
	if err != nil {
		return 1
	}
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	m, err := a.cfg.Bus.LastOnSubject(ctx, stream, subj)
	if err != nil {
		if !errors.Is(err, bus.ErrNoMessage) {
			a.log.Warn("cannot find the shard's last published change; its log starts at 1", "shard", ref.String(), "error", err)
		}
		return 1
	}
	idx, err := strconv.ParseUint(m.Header[hdrIndex], 10, 64)
	if err != nil {
		return 1
	}
	return idx + 1
}

// currentTopology returns the newest topology the agent acted on.
func (a *Agent) currentTopology() *topology.Topology { return a.top.Load() }

// dropIfDeleted drops a shard not placed here whose exact incarnation the
// topology records as deleted. A keyspace merely missing from the topology
// is not enough: the topology may have been lost and rebuilt.
func (a *Agent) dropIfDeleted(t *topology.Topology, ref topology.ShardRef) {
	sh, err := a.cfg.Shards.Shard(ref.Keyspace, ref.Shard)
	if err != nil || sh.Epoch() == 0 || !t.IsDeleted(ref.Keyspace, sh.Epoch()) {
		return
	}
	if err := a.cfg.Shards.DropShard(ref.Keyspace, ref.Shard); err != nil && !errors.Is(err, store.ErrNoShard) {
		a.log.Error("drop shard", "shard", ref.String(), "error", err)
		return
	}
	a.log.Info("dropped shard of deleted keyspace", "shard", ref.String())
}

func (a *Agent) heartbeatLoop() {
	subj, err := bus.HeartbeatSubject(a.cfg.DC)
	if err != nil {
		a.log.Error("heartbeat subject", "error", err)
		return
	}
	tick := time.NewTicker(topology.HeartbeatInterval)
	defer tick.Stop()
	var seq uint64
	for {
		seq++
		hb := a.heartbeat(seq)
		if doc, err := json.Marshal(hb); err == nil {
			if err := a.cfg.Bus.Publish(subj, doc); err != nil {
				a.log.Debug("heartbeat not sent", "error", err)
			}
		}
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (a *Agent) heartbeat(seq uint64) topology.Heartbeat {
	hb := topology.Heartbeat{Store: a.cfg.Store, Addr: a.cfg.Addr, Seq: seq, RemoteDCs: a.remoteDCs()}
	// Never a.mu: a long reconcile must not delay the heartbeat.
	if t := a.currentTopology(); t != nil {
		hb.Version = t.Version
	}
	if fills := a.fillList.Load(); fills != nil {
		for _, f := range *fills {
			hb.Fills = append(hb.Fills, f.report())
		}
	}
	sizes := seq%8 == 1 // every 2 s
	if sizes {
		hb.Sizes = map[string]topology.ShardSize{}
	}
	ids := a.cfg.Shards.Shards()
	if seq%4 == 1 || !slices.Equal(ids, a.heldSent) {
		a.heldSent = ids
		hb.Held, hb.HeldFull = a.held(), true
	}
	for _, id := range ids {
		name := id.String()
		hb.Holding = append(hb.Holding, name)
		sh, err := a.cfg.Shards.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		if sh.Serving() {
			hb.Serving = append(hb.Serving, name)
		}
		if r := sh.ReadOnly(); r != "" {
			if hb.ReadOnly == nil {
				hb.ReadOnly = map[string]string{}
			}
			hb.ReadOnly[name] = r
		}
		if sizes {
			hb.Sizes[name] = shardSize(sh)
		}
	}
	return hb
}

// held describes every shard held here for the heartbeat.
func (a *Agent) held() []topology.HeldShard {
	var out []topology.HeldShard
	for _, h := range a.cfg.Shards.Held() {
		out = append(out, topology.HeldShard{Keyspace: h.ID.Keyspace, Shard: h.ID.Shard, Epoch: h.Epoch,
			Shards: h.Shards, Replicas: h.Replicas})
	}
	return out
}

// openShardsAtOnce is how many shards follow opens (or creates) at a time:
// creating one waits for a few fsyncs, and a keyspace created places
// several shards on a store at once.
const openShardsAtOnce = 8

// openShards opens (creating if needed) the shards want places here that
// have no worker yet, openShardsAtOnce at a time, and returns those that
// opened; it logs the others.
func (a *Agent) openShards(t *topology.Topology, want map[topology.ShardRef]shardPlan) map[topology.ShardRef]Shard {
	var refs []topology.ShardRef
	for ref := range want {
		if a.shard(ref).worker == nil {
			refs = append(refs, ref)
		}
	}
	out := make(map[topology.ShardRef]Shard, len(refs))
	var mu sync.Mutex
	atOnce(refs, openShardsAtOnce, func(ref topology.ShardRef) {
		sh, err := a.openShard(t, ref, want[ref])
		if err != nil {
			a.log.Error("open shard", "shard", ref.String(), "error", err)
			return
		}
		mu.Lock()
		out[ref] = sh
		mu.Unlock()
	})
	return out
}

// atOnce calls fn for every item, n at a time, and returns when all calls
// have returned.
func atOnce[T any](items []T, n int, fn func(T)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(it)
		}()
	}
	wg.Wait()
}

// stopWorkersAtOnce is how many shard workers Shutdown stops at a time:
// each waits for its consumers to stop (a JetStream round trip or more
// each), so a store with many shards would otherwise take seconds.
const stopWorkersAtOnce = 32

// stopWorkers stops workers, stopWorkersAtOnce at a time, and returns once
// all have stopped.
func stopWorkers(workers []*shardWorker) {
	atOnce(workers, stopWorkersAtOnce, (*shardWorker).stop)
}

// Shutdown stops heartbeats, the topology watch and every shard worker, and
// waits for them. It is idempotent.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	if !a.started || a.stopped {
		a.stopped = true
		a.mu.Unlock()
		return nil
	}
	a.stopped = true
	a.routines.Close()
	var workers []*shardWorker
	var fills []*filler
	for ref, s := range a.shards {
		for _, w := range []*shardWorker{s.worker, s.leaving, s.published} {
			if w != nil {
				workers = append(workers, w)
			}
		}
		if s.fill != nil {
			fills = append(fills, s.fill)
		}
		if s.cleanup != nil {
			s.cleanup()
		}
		s.worker, s.leaving, s.published, s.fill = nil, nil, nil, nil
		a.tidy(ref)
	}
	a.mu.Unlock()
	for _, f := range fills {
		f.stop(false)
	}
	if x := a.cfg.CrossDC; x != nil {
		if err := x.Shutdown(ctx); err != nil {
			a.log.Warn("stop cross-DC replication", "error", err)
		}
	}
	a.watch.Stop()
	a.cancel()
	stopWorkers(workers)
	done := make(chan struct{})
	go func() { a.routines.Wait(); close(done) }()
	select {
	case <-done:
		a.log.Info("left cluster")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("replica: agent shutdown: %w", ctx.Err())
	}
}

func peersOf(reps []string, self string) []string {
	var out []string
	for _, r := range reps {
		if r != self {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}
