package embedded

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/vasto-kv/vasto/internal/secure"
)

// readyTimeout bounds how long Start waits for the server when ctx has no
// earlier deadline.
const readyTimeout = 10 * time.Second

// readyPoll is how often Start checks for a fatal start-up error while it
// waits for the server.
const readyPoll = 50 * time.Millisecond

// Server is an embedded NATS server with JetStream.
type Server struct {
	cfg Config
	log hclog.Logger

	mu       sync.Mutex
	started  bool
	stopping bool
	ns       *server.Server
	leafURL  string
	routeURL string
	done     chan struct{} // closed when the server has stopped
}

// New validates cfg, fills in defaults and returns a server that is not
// started.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{
		cfg:  cfg,
		log:  cfg.Logger.Named("nats").With("dc", cfg.DC),
		done: make(chan struct{}),
	}, nil
}

// options builds a fresh nats-server Options value.
func (s *Server) options() (*server.Options, error) {
	c := s.cfg
	opts := &server.Options{
		ServerName:             c.Name,
		Host:                   c.Host,
		Port:                   c.Port,
		NoSigs:                 true,
		JetStream:              true,
		JetStreamDomain:        c.DC,
		JetStreamMaxStore:      c.MaxStore,
		StoreDir:               c.Dir,
		SyncInterval:           c.SyncInterval,
		DisableJetStreamBanner: true,
	}
	if c.LeafListen != "" {
		host, port, err := parseHostPort(c.LeafListen)
		if err != nil {
			return nil, fmt.Errorf("%w: leaf listen: %w", ErrInvalidConfig, err)
		}
		opts.LeafNode.Host, opts.LeafNode.Port = host, port
		// Spokes reconnect only to the URLs they were given: advertising
		// this server's own leaf address would let them bypass a proxy or
		// load balancer in between (and a drill's cut link).
		opts.LeafNode.NoAdvertise = true
	}
	if err := clusterOptions(c, opts); err != nil {
		return nil, err
	}
	if c.MonitorListen != "" {
		host, port, err := parseHostPort(c.MonitorListen)
		if err != nil {
			return nil, fmt.Errorf("%w: monitor listen: %w", ErrInvalidConfig, err)
		}
		if port == 0 {
			port = -1 // 0 would turn monitoring off: pick a free port
		}
		opts.HTTPHost, opts.HTTPPort = host, port
	}
	for _, r := range c.LeafRemotes {
		urls, err := parseRemote(r)
		if err != nil {
			return nil, fmt.Errorf("%w: leaf remote: %w", ErrInvalidConfig, err)
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, &server.RemoteLeafOpts{URLs: urls})
	}
	if err := s.secureOptions(opts); err != nil {
		return nil, err
	}
	return opts, nil
}

// clusterOptions adds the cluster listener and routes of c to opts.
func clusterOptions(c Config, opts *server.Options) error {
	if c.ClusterListen == "" {
		return nil
	}
	host, port, err := parseHostPort(c.ClusterListen)
	if err != nil {
		return fmt.Errorf("%w: cluster listen: %w", ErrInvalidConfig, err)
	}
	opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = c.ClusterName, host, port
	// Clients also learn the other servers' client URLs from the one they
	// are connected to, and reconnect to them when it goes.
	for _, r := range c.Routes {
		u, err := parseRoute(r)
		if err != nil {
			return fmt.Errorf("%w: route: %w", ErrInvalidConfig, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// tlsTimeout is how long (in seconds) a TLS handshake may take, on the
// client port and on leafnode links.
const tlsTimeout = 2.0

// secureOptions adds TLS, the authorization users and the leafnode
// credentials to opts.
func (s *Server) secureOptions(opts *server.Options) error {
	c := s.cfg
	if c.TLS.Enabled() {
		srv, err := c.TLS.Server()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		// A TLS config makes the port TLS only: a plaintext client gets
		// "secure connection required".
		opts.TLSConfig, opts.TLS, opts.TLSVerify, opts.TLSTimeout = srv, true, c.TLS.ClientAuth, tlsTimeout
		if c.LeafListen != "" {
			opts.LeafNode.TLSConfig, opts.LeafNode.TLSTimeout = srv.Clone(), tlsTimeout
		}
		for _, r := range opts.LeafNode.Remotes {
			cli, err := c.TLS.Client()
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			}
			r.TLS, r.TLSConfig, r.TLSTimeout = true, cli, tlsTimeout
		}
	}
	if c.AuthConfig != "" {
		nk, users, err := LoadAuthConfig(c.AuthConfig)
		if err != nil {
			return err
		}
		opts.Nkeys, opts.Users = nk, users
	}
	if c.LeafCreds != "" {
		seed, err := secure.ReadSecret(c.LeafCreds)
		if err != nil {
			return fmt.Errorf("%w: leaf credentials: %w", ErrInvalidConfig, err)
		}
		for _, r := range opts.LeafNode.Remotes {
			r.Nkey = seed.Reveal()
		}
	}
	return nil
}

// LoadAuthConfig reads the authorization users of a nats-server
// configuration file (such as 'vasto auth init' writes) with nats-server's
// own parser. A file that admits no user is refused: it would leave the
// server open.
func LoadAuthConfig(path string) ([]*server.NkeyUser, []*server.User, error) {
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: auth config: %w", ErrInvalidConfig, err)
	}
	if len(o.Nkeys) == 0 && len(o.Users) == 0 {
		return nil, nil, fmt.Errorf("%w: auth config %s defines no users", ErrInvalidConfig, path)
	}
	return o.Nkeys, o.Users, nil
}

// Start starts the server and returns once it accepts clients, with
// JetStream enabled and its streams recovered from Dir. It waits until ctx
// ends or 10 s, whichever comes first, and fails with an error wrapping
// ErrNotReady (carrying the server's fatal message, if any) if the server is
// not ready by then.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.stopping {
		s.mu.Unlock()
		return ErrClosed
	}
	s.started = true
	opts, err := s.options()
	if err != nil {
		s.mu.Unlock()
		s.stopAsync(nil)
		return err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.mu.Unlock()
		s.stopAsync(nil)
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	slog := &serverLogger{log: s.log}
	ns.SetLoggerV2(slog, s.log.IsTrace(), false, false)
	s.ns = ns
	s.mu.Unlock()

	ns.Start()
	if err := s.waitReady(ctx, ns, slog); err != nil {
		s.log.Error("nats server failed to start", "error", err)
		s.stopAsync(ns)
		<-s.done
		return err
	}

	leafURL := ""
	if s.cfg.LeafListen != "" {
		if v, err := ns.Varz(nil); err == nil {
			host := v.LeafNode.Host
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = DefaultHost
			}
			leafURL = "nats-leaf://" + net.JoinHostPort(host, strconv.Itoa(v.LeafNode.Port))
		}
	}
	routeURL := ""
	if s.cfg.ClusterListen != "" {
		if addr := ns.ClusterAddr(); addr != nil {
			host := addr.IP.String()
			if addr.IP == nil || addr.IP.IsUnspecified() {
				host = DefaultHost
			}
			routeURL = "nats-route://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
		}
	}
	s.mu.Lock()
	s.leafURL, s.routeURL = leafURL, routeURL
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		return fmt.Errorf("%w: shut down while starting", ErrClosed)
	}
	s.log.Info("nats server ready", "url", ns.ClientURL(), "leaf_url", leafURL, "store_dir", s.cfg.Dir)
	return nil
}

func (s *Server) waitReady(ctx context.Context, ns *server.Server, slog *serverLogger) error {
	deadline := time.Now().Add(readyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		ready := ns.ReadyForConnections(readyPoll)
		if msg := slog.fatalMsg(); msg != "" {
			return fmt.Errorf("%w: %s", ErrNotReady, msg)
		}
		if ready {
			if !ns.JetStreamEnabled() {
				return fmt.Errorf("%w: JetStream is not enabled", ErrNotReady)
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return fmt.Errorf("%w: shut down while starting", ErrClosed)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: not ready for connections after %s", ErrNotReady, readyTimeout)
		}
	}
}

// stopAsync marks the server stopping (once) and stops ns in the
// background, closing s.done when it has stopped.
func (s *Server) stopAsync(ns *server.Server) {
	s.mu.Lock()
	first := !s.stopping
	s.stopping = true
	s.mu.Unlock()
	if !first {
		return
	}
	if ns == nil {
		close(s.done)
		return
	}
	go func() {
		ns.Shutdown()
		ns.WaitForShutdown()
		close(s.done)
	}()
}

// Shutdown stops the server and waits until it has stopped or ctx ends. It
// is idempotent, and safe before Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	ns := s.ns
	first := !s.stopping
	s.mu.Unlock()
	s.stopAsync(ns)
	select {
	case <-s.done:
		if first && ns != nil {
			s.log.Info("nats server stopped")
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus: embedded: shutdown: %w", ctx.Err())
	}
}

// ClientURL returns the URL clients connect to ("" before Start).
func (s *Server) ClientURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// LeafURL returns the nats-leaf URL other DCs put in their LeafRemotes to
// connect to this server ("" before Start or without LeafListen).
func (s *Server) LeafURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leafURL
}

// RouteURL returns the nats-route URL the other servers of the DC's cluster
// put in their Routes ("" before Start or without ClusterListen).
func (s *Server) RouteURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routeURL
}

// Name returns the server name.
func (s *Server) Name() string { return s.cfg.Name }

// MonitorURL returns the base URL of the HTTP monitoring endpoints ("" before
// Start or without MonitorListen).
func (s *Server) MonitorURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil || s.cfg.MonitorListen == "" {
		return ""
	}
	addr := s.ns.MonitorAddr()
	if addr == nil {
		return ""
	}
	return "http://" + addr.String()
}

// LeafNodes returns how many leafnode links the server has up (0 before
// Start).
func (s *Server) LeafNodes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil {
		return 0
	}
	return s.ns.NumLeafNodes()
}

// DC returns the server's DC, which is also its JetStream domain.
func (s *Server) DC() string { return s.cfg.DC }

// ConnectOptions returns nats.go options that connect a client to this
// server in-process (over a net.Pipe, without TCP); pass them in
// bus.ConnConfig.Options. It returns nil before Start.
func (s *Server) ConnectOptions() []nats.Option {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil {
		return nil
	}
	return []nats.Option{nats.InProcessServer(s.ns)}
}

// IsMetaLeader reports whether this server leads its cluster's JetStream
// meta group (true for a server that is not clustered, once started).
func (s *Server) IsMetaLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil || s.stopping {
		return false
	}
	if !s.ns.JetStreamIsClustered() {
		return true
	}
	return s.ns.JetStreamIsLeader()
}

// ClusterPeers returns how many servers of the cluster with JetStream the
// meta leader knows to be online (0 on a server that is not the leader;
// 1 for a server that is not clustered).
func (s *Server) ClusterPeers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil || s.stopping {
		return 0
	}
	if !s.ns.JetStreamIsClustered() {
		return 1
	}
	return len(s.ns.JetStreamClusterPeers())
}
