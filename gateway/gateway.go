package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
)

// Accept back-off after a failed accept (out of file descriptors, for
// example).
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Gateway serves a DC's keyspaces over RESP2 on one address.
type Gateway struct {
	cfg Config
	log hclog.Logger

	mu       sync.Mutex
	cl       *client.Client
	batch    batcher
	ln       net.Listener
	conns    map[*conn]struct{}
	started  bool
	stopping bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	quit     chan struct{}
	done     chan struct{}
	// acl is the ACL in force (nil: none); each command reads it.
	acl atomic.Pointer[acl.ACL]
	// authFailures counts failed AUTH and HELLO AUTH.
	authFailures atomic.Uint64
}

// New checks cfg and returns a gateway that is not started.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:   cfg,
		log:   cfg.Logger.Named("gateway"),
		conns: make(map[*conn]struct{}),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	g.batch = batcher{g: g, max: cfg.MaxBatches}
	g.acl.Store(cfg.ACL)
	return g, nil
}

// SetACL replaces the ACL at once for every connection: each command is
// checked against the ACL in force when it is read, so a connection whose
// user the new ACL deletes or disables gets NOAUTH on its next command.
// nil turns authentication off.
func (g *Gateway) SetACL(a *acl.ACL) {
	g.acl.Store(a)
	users := -1
	if a != nil {
		users = len(a.Users())
	}
	g.log.Info("ACL replaced", "users", users)
}

// AuthFailures returns how many AUTH (and HELLO AUTH) attempts failed.
func (g *Gateway) AuthFailures() uint64 { return g.authFailures.Load() }

// Start connects to the DC's NATS, waits (until ctx ends) for the first
// topology, listens and serves in the background.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return ErrStarted
	}
	cc := g.cfg.Client
	cc.NATSURL, cc.DC, cc.Logger = g.cfg.NATSURL, g.cfg.DC, g.log
	cl, err := client.New(ctx, cc)
	if err != nil {
		return fmt.Errorf("gateway: follow the topology of DC %s: %w", g.cfg.DC, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", g.cfg.Listen)
	if err != nil {
		_ = cl.Close()
		return fmt.Errorf("gateway: listen: %w", err)
	}
	g.cl, g.ln, g.started = cl, ln, true
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	g.wg.Add(1)
	go g.acceptLoop()
	g.log.Info("serving", "addr", ln.Addr().String(), "tls", g.cfg.TLS != nil, "dc", g.cfg.DC, "keyspace", g.cfg.Keyspace,
		"topology_version", cl.TopologyVersion())
	return nil
}

// Addr returns the address the gateway listens on (nil before Start).
func (g *Gateway) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return nil
	}
	return g.ln.Addr()
}

// Client returns the client the gateway routes with (nil before Start).
func (g *Gateway) Client() *client.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cl
}

func (g *Gateway) acceptLoop() {
	defer g.wg.Done()
	var delay time.Duration
	for {
		nc, err := g.ln.Accept()
		if err == nil {
			delay = 0
			g.serve(nc)
			continue
		}
		select {
		case <-g.quit:
			return
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			g.log.Error("listener closed; not accepting any more", "error", err)
			return
		}
		delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
		g.log.Warn("accept failed; retrying", "error", err, "retry_in", delay.String())
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-g.quit:
			t.Stop()
			return
		}
	}
}

// serve starts a connection, or refuses it when the gateway is full or
// stopping.
func (g *Gateway) serve(nc net.Conn) {
	resp.ServeConn(&g.mu, g.conns, &g.wg, nc, resp.TLSAccept{Config: g.cfg.TLS, Logger: g.log},
		func() bool { return g.stopping || len(g.conns) >= g.cfg.MaxConns },
		func(nc net.Conn) *conn { return newConn(g, nc) }, (*conn).run)
}

// stopping reports whether Shutdown began.
func (g *Gateway) isStopping() bool {
	select {
	case <-g.quit:
		return true
	default:
		return false
	}
}

// Shutdown stops accepting, lets each connection answer the commands it
// has read (commands read from then on are answered CLOSED), closes the
// connections still open after DrainTimeout or when ctx ends, and stops
// following the topology. It waits for every goroutine and is idempotent.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	first := !g.stopping
	g.stopping = true
	if !first {
		g.mu.Unlock()
		return g.wait(ctx)
	}
	close(g.quit)
	if !g.started {
		close(g.done)
		g.mu.Unlock()
		return nil
	}
	_ = g.ln.Close()
	for c := range g.conns {
		c.stop()
	}
	g.mu.Unlock()
	go g.finish()
	return g.wait(ctx)
}

func (g *Gateway) wait(ctx context.Context) error {
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		g.closeConns()
		<-g.done
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}

// finish waits for the connections to drain (closing them after
// DrainTimeout), then closes the client.
func (g *Gateway) finish() {
	ended := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(ended)
	}()
	t := time.NewTimer(g.cfg.DrainTimeout)
	select {
	case <-ended:
	case <-t.C:
		g.closeConns()
		<-ended
	}
	t.Stop()
	g.cancel()
	_ = g.cl.Close()
	g.log.Info("stopped")
	close(g.done)
}

// closeConns closes every connection and ends the requests in flight.
func (g *Gateway) closeConns() {
	g.mu.Lock()
	for c := range g.conns {
		_ = c.nc.Close()
	}
	g.mu.Unlock()
	g.cancel()
}
