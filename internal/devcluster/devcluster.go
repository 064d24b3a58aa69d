package devcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/gateway"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/metrics"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/internal/storenode"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/master"
	"github.com/vasto-kv/vasto/store"
)

// Config configures a development cluster.
type Config struct {
	// Dir holds NATS's JetStream files and one directory per store.
	Dir string
	DC  string
	// Stores is how many stores to run.
	Stores int
	// Host is the loopback address everything listens on.
	Host string
	// NATSPort and FirstStorePort choose ports; 0 picks free ones (stores
	// then keep the port they got the first time, across restarts in this
	// process).
	NATSPort       int
	FirstStorePort int
	// Sync makes stores fsync every commit.
	Sync   bool
	Logger hclog.Logger
	// Clock is the wall clock of every store and the master.
	Clock lww.Clock
	// Stream sizes the change-log stream (zero fields: defaults).
	Stream bus.StreamConfig
	// LeafListen accepts leafnode links from other DCs on host:port (port
	// -1: any free port); LeafRemotes links to other DCs' leaf URLs.
	LeafListen  string
	LeafRemotes []string
	// RemoteDCs are the other DCs whose changes the stores apply.
	RemoteDCs []string
	// UnlistedRemoteDCs starts the stores with no remote DC configured
	// (RemoteDCs still shape the NATS permissions): the DCs are linked but
	// replicate only once `vasto dc add` lists them in the topology.
	UnlistedRemoteDCs bool
	// TombstoneGrace overrides the stores' tombstone grace period.
	TombstoneGrace time.Duration
	// FillRate bounds each resize fill's copy rate in bytes/s (0: none).
	FillRate int64
	// AutoRecoverAfter is the master's master.Config.AutoRecoverAfter (0:
	// its default; negative: never).
	AutoRecoverAfter time.Duration
	// MasterNATSVia, if set, returns the address the master dials to reach
	// NATS's client URL (tests put a chaos.Proxy there to cut the master
	// off).
	MasterNATSVia func(natsURL string) string
	// LinkVia, if set, returns the address a spoke DC dials to reach the
	// hub's leafnode URL (tests put a chaos.Proxy there to cut the link).
	LinkVia func(leafURL string) string
	// AllowFaults lets every store take fault injection (VFAULT; see
	// storenode.Config.AllowFaults). All stores share this process, so a
	// VFAULT CRASH ends all of them.
	AllowFaults bool
	// Metrics, if set, is the process's metrics registry: the master and
	// every store register their metrics there while they run (labels dc
	// and, for stores, store).
	Metrics *metrics.Registry
	// Gateway starts a gateway (one Redis endpoint for the DC) once the
	// stores run, on GatewayPort (0: any free port).
	Gateway     bool
	GatewayPort int
	// StoreACL is every store's storenode.Config.ACL (nil: none), and
	// PeerUser and PeerPassword the credentials stores present to each
	// other (a user with +internal in StoreACL).
	StoreACL               *acl.ACL
	PeerUser, PeerPassword string
	// GatewayACL is the gateway's gateway.Config.ACL (nil: none), and
	// GatewayUser and GatewayPassword its credentials at the stores.
	GatewayACL                   *acl.ACL
	GatewayUser, GatewayPassword string
	// TLS, when enabled, makes the NATS client and leafnode ports, every
	// store's and the gateway's RESP port TLS only, and every dial (to
	// NATS, to stores, to other DCs' leafnode ports) TLS, all with these
	// files (a node certificate, valid as server and client:
	// secure.DevFiles.Node); ClientTLS gives clients the same files.
	TLS secure.TLSFiles
	// NATSAuth makes the DC's NATS admit only the users of
	// bus.DCIdentities (nkey seeds written into Dir/creds, one per role
	// and one per store) and every process of the cluster connect as its
	// own role: the master, each store, the gateway (client). Creds names
	// the seed files for clients and operators.
	NATSAuth bool
	// SpareStores are the ids of stores that join later as processes of
	// their own: NATSAuth writes their NATS users too.
	SpareStores []string
	// LeafCreds names the nkey seed the DC's NATS presents on its
	// LeafRemotes links: the leaf user of the DC linked to.
	LeafCreds string
	// NATSServers, when more than 1, runs the DC's NATS as a cluster of
	// that many servers (embedded.ClusterConfigs: data in Dir/nats/n<i>,
	// client ports NATSPort, NATSPort+1, ... or free ones); the leafnode
	// listener and remotes are on the first. The master and the stores
	// connect with every server's URL, and create the change logs, copies
	// and topology bucket with Stream.Replicas copies. 0 or 1: one server.
	NATSServers int
	// ExternalNATS, if set, is the DC's NATS run elsewhere (its servers'
	// client URLs, comma-separated): no NATS server is started, and the
	// master, the stores and the gateway connect there. Not with StartMulti
	// (it links the DCs' own servers), NATSAuth or the leafnode options.
	ExternalNATS string
}

// DefaultConfig returns a Config with defaults filled in.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, DC: "dc1", Stores: 3, Host: "127.0.0.1", Logger: hclog.NewNullLogger(), Clock: lww.SystemClock()}
}

// Cluster is a running development cluster.
type Cluster struct {
	cfg  Config
	log  hclog.Logger
	nats *embedded.Server
	// natsAll are every NATS server of the DC (nats is the first).
	natsAll []*embedded.Server

	mu      sync.Mutex
	gateway *gateway.Gateway
	// gatewayMetrics are the gateway's metrics (nil: none).
	gatewayMetrics *metrics.Gateway
	master         *master.Master
	mconn          *bus.Conn
	// unregisterMaster removes the master's metrics (nil: none).
	unregisterMaster func()
	stores           []*Store
	stopped          bool
}

// Store is one store of the cluster.
type Store struct {
	ID   string
	Dir  string
	Addr string

	node *storenode.Node
}

// Running reports whether the store is up.
func (s *Store) Running() bool { return s.node != nil }

// Start starts NATS, the master and every store, and returns when all are
// ready.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	c, err := startNATS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.startServices(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// startNATS starts the cluster's NATS server only.
func startNATS(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Stores < 1 {
		return nil, errors.New("devcluster: need at least one store")
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger}
	if cfg.ExternalNATS != "" {
		return c, nil
	}
	ncfg := embedded.DefaultConfig(cfg.DC, filepath.Join(cfg.Dir, "nats"))
	ncfg.Host, ncfg.Port, ncfg.Logger = cfg.Host, cfg.NATSPort, cfg.Logger.Named("nats")
	ncfg.LeafListen, ncfg.LeafRemotes = cfg.LeafListen, cfg.LeafRemotes
	ncfg.TLS, ncfg.LeafCreds = cfg.TLS, cfg.LeafCreds
	if cfg.NATSAuth {
		ids := bus.DCIdentities(cfg.DC, append(storeIDs(cfg.Stores), cfg.SpareStores...), cfg.RemoteDCs)
		files, err := bus.WriteCredentials(filepath.Join(cfg.Dir, "creds"), ids)
		if err != nil {
			return nil, fmt.Errorf("devcluster: %w", err)
		}
		ncfg.AuthConfig = files.AuthConfig
	}
	if ncfg.Port == 0 {
		ncfg.Port = -1
	}
	if cfg.NATSServers > 1 {
		if err := c.startNATSCluster(ctx, ncfg); err != nil {
			return nil, err
		}
		return c, nil
	}
	ns, err := embedded.New(ncfg)
	if err != nil {
		return nil, err
	}
	if err := ns.Start(ctx); err != nil {
		return nil, err
	}
	c.nats, c.natsAll = ns, []*embedded.Server{ns}
	return c, nil
}

// startNATSCluster starts the DC's NATS as a cluster of cfg.NATSServers
// servers built from base, and waits until it has formed.
func (c *Cluster) startNATSCluster(ctx context.Context, base embedded.Config) error {
	cfgs, err := embedded.ClusterConfigs(base, c.cfg.NATSServers)
	if err != nil {
		return err
	}
	for i := range cfgs {
		// Every server of the cluster carries the DC's leafnode links, as
		// in production: the links to other DCs survive losing any one.
		if cfgs[i].LeafListen, err = nthListen(base.LeafListen, i); err != nil {
			_ = c.stopNATS(context.Background())
			return err
		}
		ns, err := embedded.New(cfgs[i])
		if err == nil {
			err = ns.Start(ctx)
		}
		if err != nil {
			_ = c.stopNATS(context.Background())
			return err
		}
		c.natsAll = append(c.natsAll, ns)
	}
	c.nats = c.natsAll[0]
	if err := embedded.WaitCluster(ctx, c.natsAll, len(cfgs)); err != nil {
		_ = c.stopNATS(context.Background())
		return err
	}
	return nil
}

// nthListen is the leafnode listen address of the i-th server of a cluster
// whose first listens on listen: a fixed port counts up, port -1 (any free
// one) and "" (none) stay.
func nthListen(listen string, i int) (string, error) {
	if listen == "" || i == 0 {
		return listen, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("devcluster: leaf listen %q: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", fmt.Errorf("devcluster: leaf listen %q: %w", listen, err)
	}
	if p <= 0 {
		return listen, nil
	}
	return net.JoinHostPort(host, strconv.Itoa(p+i)), nil
}

// stopNATS stops every NATS server of the DC.
func (c *Cluster) stopNATS(ctx context.Context) error {
	var errs []error
	for _, ns := range c.natsAll {
		errs = append(errs, ns.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// NATSServers returns the DC's NATS servers (one unless
// Config.NATSServers asked for a cluster). A test may stop one with
// Shutdown to lose it.
func (c *Cluster) NATSServers() []*embedded.Server {
	return append([]*embedded.Server(nil), c.natsAll...)
}

// startServices starts the master and the stores.
func (c *Cluster) startServices(ctx context.Context) error {
	cfg := c.cfg
	if err := c.StartMaster(ctx); err != nil {
		_ = c.Shutdown(context.Background())
		return err
	}
	for i := 0; i < cfg.Stores; i++ {
		port := 0
		if cfg.FirstStorePort != 0 {
			port = cfg.FirstStorePort + i
		}
		id := storeIDs(cfg.Stores)[i]
		st := &Store{ID: id, Dir: filepath.Join(cfg.Dir, id), Addr: net.JoinHostPort(cfg.Host, strconv.Itoa(port))}
		c.stores = append(c.stores, st)
		if err := c.StartStore(ctx, i); err != nil {
			_ = c.Shutdown(context.Background())
			return err
		}
	}
	if cfg.Gateway {
		if err := c.startGateway(ctx); err != nil {
			_ = c.Shutdown(context.Background())
			return err
		}
	}
	return nil
}

// startGateway starts the DC's gateway.
func (c *Cluster) startGateway(ctx context.Context) error {
	addr := net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.GatewayPort))
	gcfg := gateway.DefaultConfig(addr, c.NATSURL(), c.cfg.DC)
	gcfg.Logger = c.log
	gcfg.ACL = c.cfg.GatewayACL
	gcfg.Client.Username, gcfg.Client.Password = c.cfg.GatewayUser, c.cfg.GatewayPassword
	gcfg.Client.NATSCreds = c.Creds(bus.RoleClient, "")
	if c.cfg.TLS.Enabled() {
		var err error
		if gcfg.TLS, err = c.cfg.TLS.Server(); err != nil {
			return fmt.Errorf("devcluster: gateway: %w", err)
		}
		if gcfg.Client.TLS, err = c.ClientTLS(); err != nil {
			return fmt.Errorf("devcluster: gateway: %w", err)
		}
		gcfg.Client.NATSTLS = gcfg.Client.TLS
	}
	var gm *metrics.Gateway
	if c.cfg.Metrics != nil {
		var err error
		if gm, err = metrics.NewGateway(c.cfg.Metrics, c.cfg.DC); err != nil {
			return err
		}
		gcfg.Observer = gm.Observer()
	}
	g, err := gateway.New(gcfg)
	if err == nil {
		err = g.Start(ctx)
	}
	if err != nil {
		if gm != nil {
			gm.Close()
		}
		return fmt.Errorf("devcluster: start the gateway: %w", err)
	}
	c.mu.Lock()
	c.gateway, c.gatewayMetrics = g, gm
	c.mu.Unlock()
	return nil
}

// SetStoreACL replaces the ACL of every running store (and of stores
// started later).
func (c *Cluster) SetStoreACL(a *acl.ACL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.StoreACL = a
	for _, st := range c.stores {
		if st.node != nil {
			st.node.SetACL(a)
		}
	}
}

// SetGatewayACL replaces the gateway's ACL.
func (c *Cluster) SetGatewayACL(a *acl.ACL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.GatewayACL = a
	if c.gateway != nil {
		c.gateway.SetACL(a)
	}
}

// GatewayAddr is the address of the DC's gateway ("" without
// Config.Gateway).
func (c *Cluster) GatewayAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gateway == nil || c.gateway.Addr() == nil {
		return ""
	}
	return c.gateway.Addr().String()
}

// ClientTLS returns the TLS configuration a client of the cluster dials
// its stores and gateway with (nil without Config.TLS).
func (c *Cluster) ClientTLS() (*tls.Config, error) {
	if !c.cfg.TLS.Enabled() {
		return nil, nil
	}
	return c.cfg.TLS.Client()
}

// storeIDs are the ids of a cluster's n stores: store1, store2, ...
func storeIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "store" + strconv.Itoa(i+1)
	}
	return ids
}

// Creds names the nkey seed file of a role's NATS user (for a store, of
// store id): "" without NATSAuth.
func (c *Cluster) Creds(role bus.Role, id string) string {
	if !c.cfg.NATSAuth {
		return ""
	}
	return filepath.Join(c.cfg.Dir, "creds", bus.SeedFileName(bus.Identity{Role: role, DC: c.cfg.DC, Store: id}))
}

// LeafURL is what other DCs link to ("" without LeafListen): every
// server's leafnode URL, comma-separated (one remote DC's entry of
// embedded.Config.LeafRemotes).
func (c *Cluster) LeafURL() string {
	var urls []string
	for _, ns := range c.natsAll {
		if u := ns.LeafURL(); u != "" {
			urls = append(urls, u)
		}
	}
	return strings.Join(urls, ",")
}

// NATSURL is the URL clients and the other vasto commands connect to:
// with a NATS cluster, every server's, comma-separated.
func (c *Cluster) NATSURL() string {
	if c.cfg.ExternalNATS != "" {
		return c.cfg.ExternalNATS
	}
	return embedded.ClientURLs(c.natsAll)
}

// DC is the cluster's datacenter name.
func (c *Cluster) DC() string { return c.cfg.DC }

// Stores lists the cluster's stores.
func (c *Cluster) Stores() []*Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Store(nil), c.stores...)
}

// Master returns the running master, or nil.
func (c *Cluster) Master() *master.Master {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.master
}

// StartMaster starts the master (again).
func (c *Cluster) StartMaster(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master != nil {
		return errors.New("devcluster: master already running")
	}
	url := c.NATSURL()
	if c.cfg.MasterNATSVia != nil {
		url = c.cfg.MasterNATSVia(url)
	}
	ntls, err := c.ClientTLS()
	if err != nil {
		return err
	}
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: url, Name: "vasto-master-" + c.cfg.DC, Logger: c.log.Named("master"),
		CredsFile: c.Creds(bus.RoleMaster, ""), TLS: ntls, Replicas: c.cfg.Stream.Replicas})
	if err != nil {
		return err
	}
	mcfg := master.DefaultConfig(c.cfg.DC, conn)
	mcfg.Logger = c.log
	mcfg.Clock = c.cfg.Clock
	if c.cfg.AutoRecoverAfter != 0 {
		mcfg.AutoRecoverAfter = c.cfg.AutoRecoverAfter
	}
	m, err := master.New(mcfg)
	if err == nil {
		err = m.Start(ctx)
	}
	if err == nil && c.cfg.Metrics != nil {
		c.unregisterMaster, err = metrics.NewMaster(c.cfg.Metrics, c.cfg.DC, m.Topology)
		if err != nil {
			_ = m.Shutdown(ctx)
		}
	}
	if err != nil {
		conn.Close()
		return err
	}
	c.master, c.mconn = m, conn
	return nil
}

// StopMaster stops the master, as if its process died: it holds only soft
// state, so nothing is lost.
func (c *Cluster) StopMaster(ctx context.Context) error {
	c.mu.Lock()
	m, conn, unregister := c.master, c.mconn, c.unregisterMaster
	c.master, c.mconn, c.unregisterMaster = nil, nil, nil
	c.mu.Unlock()
	if unregister != nil {
		unregister()
	}
	if m == nil {
		return nil
	}
	err := m.Shutdown(ctx)
	conn.Close()
	return err
}

// StartStore starts store i (again), keeping its data and address.
func (c *Cluster) StartStore(ctx context.Context, i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stores[i]
	if st.node != nil {
		return fmt.Errorf("devcluster: %s already running", st.ID)
	}
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return err
	}
	log := c.log.Named(st.ID)
	cfg := storenode.DefaultConfig(st.Dir, st.Addr)
	cfg.Engine.DC, cfg.Engine.Node, cfg.Engine.Sync, cfg.Engine.Clock = c.cfg.DC, st.ID, c.cfg.Sync, c.cfg.Clock
	cfg.Engine.BlockCacheBytes, cfg.Engine.WriteBufferBytes = 32<<20, 16<<20
	if c.cfg.TombstoneGrace != 0 {
		cfg.Engine.TombstoneGrace = c.cfg.TombstoneGrace
	}
	cfg.NATSURL, cfg.BusName = c.NATSURL(), "vasto-"+st.ID
	cfg.RemoteDCs, cfg.Stream, cfg.FillRate = c.cfg.RemoteDCs, c.cfg.Stream, c.cfg.FillRate
	if c.cfg.UnlistedRemoteDCs {
		cfg.RemoteDCs = nil
	}
	cfg.Logger = log
	cfg.AllowFaults = c.cfg.AllowFaults
	cfg.Metrics = c.cfg.Metrics
	cfg.ACL = c.cfg.StoreACL
	cfg.PeerUser, cfg.PeerPassword = c.cfg.PeerUser, secure.NewSecret(c.cfg.PeerPassword)
	cfg.TLS = c.cfg.TLS
	cfg.NATSCreds = c.Creds(bus.RoleStore, st.ID)
	var err error
	if cfg.NATSTLS, err = c.ClientTLS(); err != nil {
		return err
	}
	n, err := storenode.New(cfg)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	st.Addr = n.Addr()
	st.node = n
	return nil
}

// StopStore stops store i cleanly (its data stays).
func (c *Cluster) StopStore(ctx context.Context, i int) error {
	c.mu.Lock()
	st := c.stores[i]
	n := st.node
	st.node = nil
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	// Stop taking requests first, then let the agent drain the change logs.
	return n.Shutdown(ctx)
}

// Engine returns store i's engine while it runs (for tests).
func (c *Cluster) Engine(i int) *store.Engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stores[i].node == nil {
		return nil
	}
	return c.stores[i].node.Engine()
}

// Shutdown stops every store, the master and NATS. It is idempotent.
func (c *Cluster) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	n := len(c.stores)
	g, gm := c.gateway, c.gatewayMetrics
	c.gateway, c.gatewayMetrics = nil, nil
	c.mu.Unlock()
	var errs []error
	if g != nil {
		errs = append(errs, g.Shutdown(ctx))
	}
	if gm != nil {
		gm.Close()
	}
	for i := 0; i < n; i++ {
		errs = append(errs, c.StopStore(ctx, i))
	}
	errs = append(errs, c.StopMaster(ctx))
	errs = append(errs, c.stopNATS(ctx))
	return errors.Join(errs...)
}

// WaitReady waits until the master sees every running store healthy.
func (c *Cluster) WaitReady(ctx context.Context) error {
	for {
		m := c.Master()
		if m != nil {
			t := m.Topology()
			ok := true
			for _, st := range c.Stores() {
				if !st.Running() {
					continue
				}
				s, found := t.Stores[st.ID]
				if !found || !s.Healthy {
					ok = false
				}
			}
			if ok {
				return nil
			}
		}
		if !retry.Sleep(ctx, 20*time.Millisecond) {
			return fmt.Errorf("devcluster: stores not ready: %w", ctx.Err())
		}
	}
}
