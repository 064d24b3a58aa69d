package dc

import (
	"context"
	"fmt"
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
	// (at least one).
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
	case len(c.RemoteDCs) == 0:
		return fmt.Errorf("%w: no remote dc", ErrInvalidConfig)
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
// (Watermark). The store's cluster agent drives it.
type Replicator struct {
	cfg Config
	log hclog.Logger
	top atomic.Pointer[topology.Topology]

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

// RemoteDCs returns the remote DCs whose changes this store applies.
func (r *Replicator) RemoteDCs() []string { return r.cfg.RemoteDCs }

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
		src := bus.SourceConfig{LocalDC: r.cfg.DC, RemoteDC: d, MaxAge: r.cfg.Stream.MaxAge, MaxBytes: r.cfg.Stream.MaxBytes}
		if err := r.cfg.Bus.EnsureSourceStream(ctx, src); err != nil {
			return fmt.Errorf("dc: source stream of %s: %w", d, err)
		}
	}
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.started = true
	return nil
}

// Follow makes t the local topology the appliers route remote changes
// through.
func (r *Replicator) Follow(t *topology.Topology) { r.top.Store(t) }

// Reconcile runs one applier per remote DC and keyspace of keyspaces (those
// this store holds shards of under t) and stops the others; the consumer of
// a stopped applier is deleted if t no longer knows its keyspace.
func (r *Replicator) Reconcile(t *topology.Topology, keyspaces []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.stopped {
		return
	}
	need := map[string][2]string{}
	for _, ks := range keyspaces {
		for _, d := range r.cfg.RemoteDCs {
			need[d+"/"+ks] = [2]string{d, ks}
		}
	}
	for k, w := range r.workers {
		if _, ok := need[k]; !ok {
			w.stop()
			delete(r.workers, k)
			if _, exists := t.Keyspaces[w.keyspace]; !exists {
				stream, _ := bus.SourceStream(r.cfg.DC, w.remote)
				ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
				_ = r.cfg.Bus.DeleteConsumer(ctx, stream, Durable(r.cfg.Store, w.remote, w.keyspace))
				cancel()
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
