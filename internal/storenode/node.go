package storenode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	crossdc "github.com/vasto-kv/vasto/dc"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/metrics"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/replica"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// rollbackTimeout bounds stopping what a failed Start had started.
const rollbackTimeout = 10 * time.Second

// Config configures a store process.
type Config struct {
	// Engine configures the shard engine (Dir, DC, Node, Sync, caches...).
	// Start sets its Logger to Logger, and StartNotServing and NoChangeLog
	// from NATSURL: a store in a DC opens its shards refusing reads until
	// the agent has caught them up; a store alone appends no change-log
	// entry for shards that never belonged to a DC.
	Engine store.Config
	// Listen is the TCP address the RESP server listens on.
	Listen string
	// Advertise is the address clients and peers dial (empty: the address
	// the server listens on).
	Advertise string
	// WriteTimeout is the server's server.Config.WriteTimeout.
	WriteTimeout time.Duration
	// Keyspace, when the store runs alone, is the keyspace whose shard 0 the
	// engine creates before the server starts (empty: none). A store in a
	// DC serves what the master places on it and ignores it.
	Keyspace string
	// NATSURL is the NATS URL of the DC to join; empty: run alone, with no
	// bus connection and no agent.
	NATSURL string
	// BusName names the NATS connection (empty: "vasto-store-" + node).
	BusName string
	// NATSCreds names the file of the store's NATS credentials (the nkey
	// seed of its store user); empty: none.
	NATSCreds string
	// NATSTLS, if set, makes the NATS connection TLS.
	NATSTLS *tls.Config
	// RemoteDCs are the other DCs whose changes the store applies until
	// the DC's topology manages its list of remote DCs (then the store
	// follows that list live). They need NATSURL.
	RemoteDCs []string
	// Stream sizes the DC's change-log stream (zero fields: defaults); its
	// DC is always Engine.DC.
	Stream bus.StreamConfig
	// FillRate bounds the bytes per second one resize fill copies into
	// this store (0: no limit).
	FillRate int64
	// Logger receives the logs of the engine, the RESP server, the agent
	// and the cross-DC replicator.
	Logger hclog.Logger
	// BusLogger receives the NATS connection's logs (nil: Logger).
	BusLogger hclog.Logger
	// AllowFaults enables fault injection over RESP (VFAULT: clock skew,
	// crash, pausing cross-DC replication) for drills. Off, every VFAULT
	// is refused with NOFAULTS.
	AllowFaults bool
	// ACL, when not nil, is the RESP server's server.Config.ACL: every
	// connection authenticates and each command is checked against the
	// user's rights (peers dial with a user holding +internal). SetACL
	// replaces it.
	ACL *acl.ACL
	// TLS, when enabled, makes the RESP port speak TLS only (Server of the
	// files) and the store's dials to other stores (re-bootstrap, resize
	// fills, cross-DC copies) speak TLS (Client of the same files).
	TLS secure.TLSFiles
	// PeerUser, when set, authenticates the store's dials to other stores:
	// AUTH PeerUser PeerPassword.
	PeerUser     string
	PeerPassword secure.Secret
	// Metrics, if set, is the process's metrics registry: the store
	// registers its metrics there (labels dc and store) while it runs,
	// and turns RocksDB's statistics on.
	Metrics *metrics.Registry
}

// DefaultConfig returns a Config for a store alone with its data in dir,
// serving RESP on listen, with defaults filled in.
func DefaultConfig(dir, listen string) Config {
	return Config{
		Engine:       store.DefaultConfig(dir),
		Listen:       listen,
		WriteTimeout: server.DefaultWriteTimeout,
		Logger:       hclog.NewNullLogger(),
	}
}

// Validate reports the first problem with c. The engine's, server's and
// agent's own configurations are checked when Start builds them.
func (c Config) Validate() error {
	switch {
	case c.Engine.Dir == "":
		return fmt.Errorf("%w: empty data directory", ErrInvalidConfig)
	case c.Listen == "":
		return fmt.Errorf("%w: empty listen address", ErrInvalidConfig)
	case c.Logger == nil:
		return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("%w: write timeout must be positive", ErrInvalidConfig)
	case c.FillRate < 0:
		return fmt.Errorf("%w: negative fill rate", ErrInvalidConfig)
	case len(c.RemoteDCs) > 0 && c.NATSURL == "":
		return fmt.Errorf("%w: remote DCs need a NATS URL", ErrInvalidConfig)
	case c.TLS.Enabled() && c.TLS.CertFile == "":
		return fmt.Errorf("%w: a TLS store needs a certificate and key to serve with", ErrInvalidConfig)
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	// The engine's sizes (memory budget, open files) are refused here, not
	// when Start opens the shards.
	ecfg := c.Engine
	ecfg.Logger = c.Logger
	if err := ecfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// SetACL replaces the RESP server's ACL (server.Server.SetACL) at once
// while the node runs, and for its next Start.
func (n *Node) SetACL(a *acl.ACL) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg.ACL = a
	if n.srv != nil {
		n.srv.SetACL(a)
	}
}

// Node is one store process: engine, RESP server and, in a DC, its bus
// connection and cluster agent.
type Node struct {
	cfg Config

	mu      sync.Mutex
	started bool
	stopped bool
	done    chan struct{} // closed once Shutdown has stopped everything
	eng     *store.Engine
	srv     *server.Server
	conn    *bus.Conn
	agent   *replica.Agent
	metrics *metrics.Store
	addr    string // the address the server listens on

	// xdc is the cross-DC replicator while running in a DC. Not
	// under mu: VFAULT reads it from a connection of the server, which
	// Start (holding mu) may be shutting down.
	xdc atomic.Pointer[crossdc.Replicator]
	// ackAgent is the agent once started, for ACK replicated (read by the
	// server's connections without n.mu).
	ackAgent atomic.Pointer[replica.Agent]

	// clock is the store's clock: Engine.Clock (default the system clock)
	// with the skew a drill sets. The engine, and through its Config the
	// server, the agent and the cross-DC replicator, read time from it.
	clock *lww.SkewedClock
	// exit ends the process on VFAULT CRASH (os.Exit; tests replace it).
	exit func(code int)
}

// New checks cfg and returns a Node; it starts nothing.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.RemoteDCs = append([]string(nil), cfg.RemoteDCs...)
	base := cfg.Engine.Clock
	if base == nil {
		base = lww.SystemClock()
	}
	return &Node{cfg: cfg, done: make(chan struct{}), clock: lww.NewSkewedClock(base), exit: os.Exit}, nil
}

// Start opens the engine, starts the RESP server and, with a NATS URL,
// connects to NATS, builds the cross-DC replicator and starts the agent. It does not block: ctx bounds the start only.
// On error it stops what it had started.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.stopped:
		return ErrStopped
	case n.started:
		return ErrStarted
	}
	n.started = true
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			defer cancel()
			n.closeMetrics()
			_ = n.stop(sctx, n.eng, n.srv, n.conn, n.agent)
			n.eng, n.srv, n.conn, n.agent, n.addr = nil, nil, nil, nil, ""
			n.xdc.Store(nil)
		}
	}()
	cfg := n.cfg
	alone := cfg.NATSURL == ""

	ecfg := cfg.Engine
	ecfg.Logger = cfg.Logger
	ecfg.Clock = n.clock
	ecfg.StartNotServing = !alone
	// Alone, nothing reads a change log: writes append none (but the
	// shards of a DC this directory ran in keep logging; see NoChangeLog).
	ecfg.NoChangeLog = alone
	if err := n.openMetrics(&ecfg); err != nil {
		return err
	}
	n.eng, err = store.Open(ecfg)
	if err != nil {
		return fmt.Errorf("storenode: open engine: %w", err)
	}
	n.attachEngine()
	if alone && cfg.Keyspace != "" {
		if _, err := n.eng.EnsureShard(cfg.Keyspace, 0); err != nil {
			return fmt.Errorf("storenode: keyspace %q: %w", cfg.Keyspace, err)
		}
	}

	peers := peerclient.Options{User: cfg.PeerUser, Password: cfg.PeerPassword}
	scfg := server.DefaultConfig(cfg.Listen, n.eng)
	scfg.Logger = cfg.Logger
	if cfg.TLS.Enabled() {
		if scfg.TLS, err = cfg.TLS.Server(); err != nil {
			return fmt.Errorf("storenode: %w", err)
		}
		if peers.TLS, err = cfg.TLS.Client(); err != nil {
			return fmt.Errorf("storenode: %w", err)
		}
	}
	scfg.WriteTimeout = cfg.WriteTimeout
	if cfg.AllowFaults {
		scfg.Faults = n
		cfg.Logger.Warn("fault injection enabled (--allow-faults): VFAULT can skew the clock, crash the process and pause cross-DC replication")
	}
	scfg.Observer = n.serverObserver()
	scfg.ACL = cfg.ACL
	scfg.Replicated = n.waitReplicated
	srv, err := server.New(scfg)
	if err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	n.srv, n.addr = srv, srv.Addr().String()
	if alone {
		return nil
	}

	busLog := cfg.BusLogger
	if busLog == nil {
		busLog = cfg.Logger
	}
	name := cfg.BusName
	if name == "" {
		name = "vasto-store-" + ecfg.Node
	}
	n.conn, err = bus.Connect(ctx, bus.ConnConfig{URL: cfg.NATSURL, Name: name, Logger: busLog,
		CredsFile: cfg.NATSCreds, TLS: cfg.NATSTLS, Replicas: cfg.Stream.Replicas})
	if err != nil {
		return fmt.Errorf("storenode: connect to NATS: %w", err)
	}
	acfg := replica.DefaultAgentConfig(ecfg.DC, ecfg.Node, n.advertised(), n.conn, n.eng)
	acfg.Logger = cfg.Logger
	acfg.Dial = replica.DialPeer(peers)
	acfg.Stream = cfg.Stream
	acfg.Stream.DC = ecfg.DC
	acfg.FillRate = cfg.FillRate
	acfg.Observer = n.replicaObserver()
	// Always a replicator, even with no remote DC configured: the DC's
	// topology may list remote DCs (vasto dc add), followed live.
	x, err := crossdc.New(crossdc.Config{DC: ecfg.DC, Store: ecfg.Node, RemoteDCs: cfg.RemoteDCs,
		Bus: crossdc.ConnBus(n.conn), Shards: crossdc.EngineShards(n.eng), Dial: crossdc.DialPeer(peers),
		Logger: cfg.Logger, Stream: acfg.Stream,
		Observer: n.crossDCObserver()})
	if err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	acfg.CrossDC = x
	n.xdc.Store(x)
	n.attachLinks(ecfg.DC, x.RemoteDCs)
	agent, err := replica.NewAgent(acfg)
	if err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	if err := agent.Start(ctx); err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	n.agent = agent
	n.ackAgent.Store(agent)
	return nil
}

// waitReplicated is the server's Config.Replicated: the agent's
// WaitReplicas once it runs.
func (n *Node) waitReplicated(ctx context.Context, ks string, shard uint32, index uint64, want int) (int, error) {
	a := n.ackAgent.Load()
	if a == nil {
		return 0, fmt.Errorf("%w: the store has not joined the cluster", replica.ErrNotReplicated)
	}
	return a.WaitReplicas(ctx, ks, shard, index, want)
}

// advertised is the address clients and peers dial; n.mu held.
func (n *Node) advertised() string {
	if n.cfg.Advertise != "" && n.addr != "" {
		return n.cfg.Advertise
	}
	return n.addr
}

// Addr returns the address the RESP server listens on ("" unless running).
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// AdvertisedAddr returns the address clients and peers dial: Advertise,
// or else Addr ("" unless running).
func (n *Node) AdvertisedAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.advertised()
}

// Engine returns the shard engine (nil unless running).
func (n *Node) Engine() *store.Engine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng
}

// Shutdown stops the store in order: the server stops taking requests
// (connections that do not drain within its drain timeout are closed),
// the agent drains the change logs and stops, the NATS connection closes,
// and the engine closes. It waits for all of it and returns the joined
// errors. It is idempotent: a later call waits for the first one (or ctx)
// and returns nil.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		select {
		case <-n.done:
		case <-ctx.Done():
		}
		return nil
	}
	n.stopped = true
	n.closeMetrics()
	eng, srv, conn, agent := n.eng, n.srv, n.conn, n.agent
	n.eng, n.srv, n.conn, n.agent, n.addr = nil, nil, nil, nil, ""
	n.xdc.Store(nil)
	n.mu.Unlock()
	defer close(n.done)
	return n.stop(ctx, eng, srv, conn, agent)
}

// stop stops the given parts (nil: not running) in shutdown order.
func (n *Node) stop(ctx context.Context, eng *store.Engine, srv *server.Server, conn *bus.Conn, agent *replica.Agent) error {
	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("storenode: stop server: %w", err))
		}
	}
	if agent != nil {
		if err := agent.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("storenode: stop agent: %w", err))
		}
	}
	if conn != nil {
		conn.Close()
	}
	if eng != nil {
		if err := eng.Close(); err != nil {
			errs = append(errs, fmt.Errorf("storenode: close engine: %w", err))
		}
	}
	return errors.Join(errs...)
}
