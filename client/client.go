package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// Client is a Vasto client of one DC. It is safe for concurrent use. Create
// it with New and release it with Close.
type Client struct {
	cfg Config
	log hclog.Logger

	conn  *bus.Conn
	watch *bus.Watch

	top     atomic.Pointer[topology.Topology]
	first   chan struct{} // closed at the first topology
	firstMu sync.Once

	mu      sync.Mutex
	changed chan struct{}          // closed and replaced at every topology
	pools   map[string]*storeConns // by store address
	closed  bool

	// suspects maps the address of a store that failed at the transport
	// level to the time until which it is tried last.
	suspects sync.Map

	// clock stamps the writes that have no event time of their own, so a
	// write sent again to another replica carries the same version.
	clock *lww.HLC

	// marks are the latest writes this client had acknowledged, per shard
	// and store, which a hedged read waits for on another replica.
	marks writeMarks

	// background runs the requests of hedged reads, including the slower
	// one an operation leaves behind; closing ends them and Close waits for
	// them.
	background workers
	closing    context.Context
	stopAll    context.CancelFunc

	closeOnce sync.Once
}

// New connects to the DC's NATS, starts following its topology and waits,
// until ctx ends, for the first topology document. ctx bounds only the
// start; the client lives until Close.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := newClient(cfg)
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: cfg.NATSURL, Name: "vasto-client-" + cfg.DC, Logger: cfg.Logger,
		CredsFile: cfg.NATSCreds, TLS: cfg.NATSTLS})
	if err != nil {
		return nil, fmt.Errorf("client: connect to NATS: %w", err)
	}
	c.conn = conn
	// The watch lives until Close, not until ctx ends.
	w, err := conn.WatchTopology(context.WithoutCancel(ctx), cfg.DC, c.onTopology)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("client: watch the topology of DC %s: %w", cfg.DC, err)
	}
	c.watch = w
	select {
	case <-c.first:
	case <-ctx.Done():
		_ = c.Close()
		return nil, fmt.Errorf("client: waiting for the topology of DC %s: %w", cfg.DC, ctx.Err())
	}
	c.log.Debug("started", "dc", cfg.DC, "version", c.top.Load().Version)
	return c, nil
}

// newClient builds a client without connecting (tests use it directly).
func newClient(cfg Config) *Client {
	wall := cfg.Clock
	if wall == nil {
		wall = lww.SystemClock()
	}
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger.Named("client"),
		first:   make(chan struct{}),
		changed: make(chan struct{}),
		pools:   map[string]*storeConns{},
		clock:   lww.NewHLC(wall),
	}
	c.closing, c.stopAll = context.WithCancel(context.Background())
	return c
}

// dialPool makes the connections of one store (dialled on first use).
func (c *Client) dialPool(addr string) *storeConns {
	return newStoreConns(connConfig{
		addr:         addr,
		dialTimeout:  c.cfg.DialTimeout,
		readTimeout:  c.cfg.ReadTimeout,
		writeTimeout: c.cfg.WriteTimeout,
		// Sent as HELLO 2 AUTH username password on every new connection.
		username: c.cfg.Username,
		password: c.cfg.Password,
		tls:      secure.ForAddr(c.cfg.TLS, addr),
	}, c.cfg.Pipelines, c.cfg.PoolSize)
}

// Close stops following the topology, closes the NATS connection and every
// store connection. Operations in flight and later fail with ErrClosed.
// It is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		pools := c.pools
		c.pools = map[string]*storeConns{}
		c.mu.Unlock()
		c.stopAll()
		if c.watch != nil {
			c.watch.Stop()
		}
		if c.conn != nil {
			c.conn.Close()
		}
		for _, p := range pools {
			p.close()
		}
		c.mu.Lock()
		close(c.changed) // wake waiters
		c.changed = make(chan struct{})
		c.mu.Unlock()
		// The requests left behind fail at once on their closed
		// connections.
		c.background.close()
	})
	return nil
}

// isClosed reports whether Close was called.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// onTopology receives every topology document, in order.
func (c *Client) onTopology(doc []byte, rev uint64) {
	if len(doc) == 0 {
		c.log.Warn("empty topology document, keeping the last one", "rev", rev)
		return
	}
	t, err := topology.Decode(doc)
	if err != nil {
		c.log.Error("bad topology document, keeping the last one", "rev", rev, "error", err)
		return
	}
	if t.DC != "" && t.DC != c.cfg.DC {
		c.log.Warn("topology of another DC", "want", c.cfg.DC, "got", t.DC, "rev", rev)
	}
	c.setTopology(t)
	c.log.Debug("topology", "rev", rev, "version", t.Version, "stores", len(t.Stores), "keyspaces", len(t.Keyspaces))
}

// setTopology installs t as the latest topology, closes the pools of
// stores that left or are marked down, and wakes waiters.
func (c *Client) setTopology(t *topology.Topology) {
	old := c.top.Swap(t)
	if old != nil && t.Version < old.Version {
		c.log.Warn("topology version went back", "old", old.Version, "new", t.Version)
	}
	// Addresses to keep: the healthy stores. Closing the pool of a store
	// marked down abandons the requests in flight to it (a frozen store
	// would hold them until the read timeout): they fail at once and are
	// retried on another replica. Nothing is sent to a store marked down,
	// and once it is healthy again it gets a fresh pool.
	keep := make(map[string]bool, len(t.Stores))
	for _, s := range t.Stores {
		if s != nil && s.Healthy {
			keep[s.Addr] = true
		}
	}
	var drop []*storeConns
	c.mu.Lock()
	for addr, p := range c.pools {
		if !keep[addr] {
			drop = append(drop, p)
			delete(c.pools, addr)
		}
	}
	if !c.closed {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
	for _, p := range drop {
		p.close()
	}
	c.firstMu.Do(func() { close(c.first) })
}

// changes returns a channel closed at the next topology (or Close).
func (c *Client) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// pool returns the connection pool of the store at addr. It makes one only
// for a store the latest topology lists healthy (errStoreDown otherwise):
// setTopology swaps the topology before it closes pools under c.mu, so a
// pool made here for a store just marked down is closed too.
func (c *Client) pool(addr string) (*storeConns, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	p, ok := c.pools[addr]
	if !ok {
		if !healthyAt(c.top.Load(), addr) {
			return nil, fmt.Errorf("%w: %s", errStoreDown, addr)
		}
		p = c.dialPool(addr)
		c.pools[addr] = p
	}
	return p, nil
}

// healthyAt reports whether t lists a healthy store at addr.
func healthyAt(t *topology.Topology, addr string) bool {
	if t == nil {
		return false
	}
	for _, s := range t.Stores {
		if s != nil && s.Healthy && s.Addr == addr {
			return true
		}
	}
	return false
}

// Topology returns a copy of the latest topology.
func (c *Client) Topology() *topology.Topology {
	t := c.top.Load()
	if t == nil {
		return nil
	}
	return t.Clone()
}

// topo returns the latest topology (not a copy: do not modify it).
func (c *Client) topo() (*topology.Topology, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	t := c.top.Load()
	if t == nil {
		return nil, errors.New("client: no topology yet")
	}
	return t, nil
}

// keyspace returns the latest topology and keyspace ks in it
// (ErrUnknownKeyspace when it has none).
func (c *Client) keyspace(ks string) (*topology.Topology, *topology.Keyspace, error) {
	t, err := c.topo()
	if err != nil {
		return nil, nil, err
	}
	k, ok := t.Keyspaces[ks]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownKeyspace, ks)
	}
	return t, k, nil
}

// WaitForKeyspace waits until the keyspace is in the local topology, or ctx
// ends.
func (c *Client) WaitForKeyspace(ctx context.Context, name string) error {
	if err := checkKeyspace(name); err != nil {
		return err
	}
	return c.waitFor(ctx, func(t *topology.Topology) bool {
		_, ok := t.Keyspaces[name]
		return ok
	}, "keyspace "+name)
}

// WaitForServing waits until the keyspace is in the local topology and
// every shard has a healthy replica, each of its healthy replicas listing
// it as served (so the shard is open and caught up where requests go), or
// ctx ends. Stores report what they serve in their heartbeats, so this
// follows WaitForKeyspace by a heartbeat or two.
func (c *Client) WaitForServing(ctx context.Context, name string) error {
	if err := checkKeyspace(name); err != nil {
		return err
	}
	return c.waitFor(ctx, func(t *topology.Topology) bool {
		return keyspaceServed(t, name)
	}, "keyspace "+name+" served")
}

// keyspaceServed reports whether every shard of the keyspace has a healthy
// replica and every healthy replica serves it.
func keyspaceServed(t *topology.Topology, name string) bool {
	ks, ok := t.Keyspaces[name]
	if !ok {
		return false
	}
	for shard, reps := range ks.Placement {
		healthy := 0
		for _, id := range reps {
			s, ok := t.Stores[id]
			if !ok || s == nil || !s.Healthy {
				continue
			}
			if !serves(s, name, uint32(shard)) {
				return false
			}
			healthy++
		}
		if healthy == 0 {
			return false
		}
	}
	return true
}

// waitFor waits until cond holds for the local topology.
func (c *Client) waitFor(ctx context.Context, cond func(*topology.Topology) bool, what string) error {
	for {
		ch := c.changes()
		t, err := c.topo()
		if err != nil {
			return err
		}
		if cond(t) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("client: waiting for %s in the topology: %w", what, ctx.Err())
		}
	}
}
