package dc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/topology"
)

// Config configures a store's cross-DC replication.
type Config struct {
	// DC is the store's datacenter; Store its id (the engine's Node).
	DC    string
	Store string
	// RemoteDCs are the other datacenters whose changes this store applies
	// while the topology does not manage the DC's list (see
	// topology.Topology.Remotes); possibly none. Once it does, the
	// replicator follows the topology's list live.
	RemoteDCs []string
	// Bus is the DC's message bus (ConnBus of a connection).
	Bus Bus
	// Shards are the store's shards (EngineShards of its engine).
	Shards Shards
	// Dial connects to the stores of remote DCs for a re-bootstrap's copy
	// (nil: DialPeer without TLS or AUTH).
	Dial   Dial
	Logger hclog.Logger
	// Stream holds the retention limits (MaxAge, MaxBytes) of the local
	// copies of the remote DCs' streams: those of the DC's change stream.
	Stream bus.StreamConfig
	// Observer is told of cross-DC replication events (for metrics); nil:
	// none.
	Observer Observer
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case topology.CheckName("dc", c.DC) != nil, topology.CheckName("store", c.Store) != nil:
		return fmt.Errorf("%w: bad dc %q or store %q", ErrInvalidConfig, c.DC, c.Store)
	case c.Bus == nil || c.Shards == nil || c.Logger == nil:
		return fmt.Errorf("%w: bus, shards and logger are required", ErrInvalidConfig)
	}
	for _, r := range c.RemoteDCs {
		if topology.CheckName("dc", r) != nil || r == c.DC {
			return fmt.Errorf("%w: bad remote dc %q", ErrInvalidConfig, r)
		}
	}
	return nil
}

// Replicator applies the remote DCs' changes to the shards a store holds:
// one applier per remote DC and keyspace the store holds shards of (see
// Reconcile), and it computes the purge watermark the remote DCs allow
// (Watermark). The store's cluster agent drives it. The remote DCs are the
// configured ones until the topology manages the DC's list; then a DC
// added to it gets its local copy stream and appliers, and a DC removed
// from it loses its appliers, their durable consumers and its purge
// watermark entry (its local copy stream is kept).
type Replicator struct {
	cfg Config
	log hclog.Logger
	top atomic.Pointer[topology.Topology]

	// remotes are the remote DCs applied now, sorted; written under mu,
	// read without it (heartbeats must not wait for a Reconcile).
	remotes atomic.Pointer[[]string]

	mu      sync.Mutex
	workers map[string]*xdcWorker // remote dc + "/" + keyspace
	started bool
	stopped bool
	ctx     context.Context
	cancel  context.CancelFunc

	pauseMu sync.Mutex
	pause   pauseState

	wmMu   sync.Mutex
	wm     map[string]int64     // per remote DC: applied everything published before
	kicked map[string]time.Time // last restart of each remote DC's copy
}

// New checks cfg and returns a replicator that is not started.
func New(cfg Config) (*Replicator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dial == nil {
		cfg.Dial = DialPeer(peerclient.Options{})
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	return &Replicator{
		cfg:     cfg,
		log:     cfg.Logger.Named("xdc"),
		workers: map[string]*xdcWorker{},
		wm:      map[string]int64{},
		kicked:  map[string]time.Time{},
	}, nil
}

// RemoteDCs returns the remote DCs whose changes this store applies now:
// the configured ones until the topology manages the list (Reconcile).
func (r *Replicator) RemoteDCs() []string {
	if p := r.remotes.Load(); p != nil {
		return slices.Clone(*p)
	}
	return slices.Clone(r.cfg.RemoteDCs)
}

// Durable names the consumer with which store applies remote's changes to
// keyspace (see the function Durable).
func (r *Replicator) Durable(store, remote, keyspace string) string {
	return Durable(store, remote, keyspace)
}

// Start creates the local copy (source stream) of each remote DC's change
// stream if needed. It does not block.
func (r *Replicator) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return ErrStarted
	}
	for _, d := range r.cfg.RemoteDCs {
		if err := r.ensureSource(ctx, d); err != nil {
			return err
		}
	}
	remotes := slices.Sorted(slices.Values(r.cfg.RemoteDCs))
	r.remotes.Store(&remotes)
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.started = true
	return nil
}

// Follow makes t the local topology the appliers route remote changes
// through.
func (r *Replicator) Follow(t *topology.Topology) { r.top.Store(t) }

// ensureSource creates the local copy (source stream) of remote's change
// stream if needed.
func (r *Replicator) ensureSource(ctx context.Context, remote string) error {
	src := bus.SourceConfig{LocalDC: r.cfg.DC, RemoteDC: remote, MaxAge: r.cfg.Stream.MaxAge, MaxBytes: r.cfg.Stream.MaxBytes}
	if err := r.cfg.Bus.EnsureSourceStream(ctx, src); err != nil {
		return fmt.Errorf("dc: source stream of %s: %w", remote, err)
	}
	return nil
}

// Reconcile follows t's remote DCs (see topology.Topology.Remotes) and runs
// one applier per remote DC and keyspace of keyspaces (those this store
// holds shards of under t), stopping the others; the consumer of a stopped
// applier is deleted if t no longer knows its keyspace or its remote DC.
func (r *Replicator) Reconcile(t *topology.Topology, keyspaces []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.stopped {
		return
	}
	r.followRemotes(t)
	need := map[string][2]string{}
	for _, ks := range keyspaces {
		for _, d := range *r.remotes.Load() {
			need[d+"/"+ks] = [2]string{d, ks}
		}
	}
	for k, w := range r.workers {
		if _, ok := need[k]; !ok {
			w.stop()
			delete(r.workers, k)
			if _, exists := t.Keyspaces[w.keyspace]; !exists {
				r.deleteConsumer(w.remote, w.keyspace)
			}
		}
	}
	for k, rk := range need {
		if _, ok := r.workers[k]; ok {
			continue
		}
		w, err := r.startWorker(r.ctx, rk[0], rk[1])
		if err != nil {
			r.log.Error("start cross-DC applier", "remote_dc", rk[0], "keyspace", rk[1], "error", err)
			continue
		}
		r.workers[k] = w
	}
}

// followRemotes makes t's remote DCs the ones applied: a DC added gets its
// local copy stream (its appliers start in Reconcile; a failure is retried
// at the next Reconcile), a DC removed has its appliers stopped and this
// store's durable consumers of it deleted (Watermark drops its entry). r.mu
// held.
func (r *Replicator) followRemotes(t *topology.Topology) {
	want := t.Remotes(r.cfg.RemoteDCs)
	want = slices.DeleteFunc(want, func(d string) bool { return d == r.cfg.DC || topology.CheckName("dc", d) != nil })
	slices.Sort(want)
	want = slices.Compact(want)
	current := *r.remotes.Load()
	if slices.Equal(want, current) {
		return
	}
	for _, d := range current {
		if slices.Contains(want, d) {
			continue
		}
		keyspaces := map[string]bool{}
		for k, w := range r.workers {
			if w.remote == d {
				w.stop()
				delete(r.workers, k)
				keyspaces[w.keyspace] = true
			}
		}
		for ks := range t.Keyspaces {
			keyspaces[ks] = true
		}
		for ks := range keyspaces {
			r.deleteConsumer(d, ks)
		}
		r.log.Info("stopped applying a remote DC removed from the topology", "remote_dc", d, "version", t.Version)
	}
	var next []string
	for _, d := range want {
		if !slices.Contains(current, d) {
			ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
			err := r.ensureSource(ctx, d)
			cancel()
			if err != nil {
				r.log.Error("cannot add remote DC; retrying with the next topology", "remote_dc", d, "error", err)
				continue
			}
			r.log.Info("applying a remote DC added to the topology", "remote_dc", d, "version", t.Version)
		}
		next = append(next, d)
	}
	r.remotes.Store(&next)
}

// deleteConsumer deletes this store's durable consumer of remote's changes
// to keyspace, if there is one.
func (r *Replicator) deleteConsumer(remote, keyspace string) {
	stream, err := bus.SourceStream(r.cfg.DC, remote)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	err = r.cfg.Bus.DeleteConsumer(ctx, stream, Durable(r.cfg.Store, remote, keyspace))
	if err != nil && !errors.Is(err, bus.ErrNoConsumer) {
		r.log.Warn("cannot delete durable consumer", "remote_dc", remote, "keyspace", keyspace, "error", err)
	}
}

// Shutdown stops every applier and waits for them (each for at most five
// seconds). It is idempotent.
func (r *Replicator) Shutdown(context.Context) error {
	r.mu.Lock()
	if !r.started || r.stopped {
		r.stopped = true
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	workers := r.workers
	r.workers = map[string]*xdcWorker{}
	r.mu.Unlock()
	for _, w := range workers {
		w.stop()
	}
	r.cancel()
	return nil
}
