package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/store"
)

// DefaultKeyspace is the keyspace a connection uses until it selects
// another; a store started alone serves it as one shard.
const DefaultKeyspace = "default"

// Server defaults.
const (
	// DefaultWriteTimeout is the default Config.WriteTimeout.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultDrainTimeout is the default Config.DrainTimeout.
	DefaultDrainTimeout = time.Second
	// DefaultAckTimeout is the default Config.AckTimeout.
	DefaultAckTimeout = 2 * time.Second
)

// Accept back-off after a failed accept (out of file descriptors, for
// example), doubling from the first to the last, as net/http does.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	// acceptLogEvery bounds how often repeated accept failures are logged.
	acceptLogEvery = 10 * time.Second
)

// Config configures the RESP server of a store.
type Config struct {
	// Listen is the TCP address to listen on, e.g. 127.0.0.1:6380.
	Listen string
	// Engine holds the shards the server serves.
	Engine *store.Engine
	// Logger receives the server's logs.
	Logger hclog.Logger
	// MaxConns bounds concurrent client connections.
	MaxConns int
	// MaxPipeline bounds how many pipelined commands are handled as one
	// batch before their replies are flushed.
	MaxPipeline int
	// Limits bound what one command may carry.
	Limits resp.Limits
	// WriteTimeout bounds how long one write of replies to a client may
	// block. A client that reads nothing for that long is disconnected, so
	// it cannot hold a connection's goroutine (and Shutdown) forever.
	WriteTimeout time.Duration
	// DrainTimeout is how long Shutdown lets connections finish the
	// commands they have read and flush the replies before it closes
	// them; 0 closes them at once.
	DrainTimeout time.Duration
	// AckTimeout bounds the wait of a write that asked for an
	// acknowledgement level beyond local (VSET ... ACK published); past it
	// the write is answered NOACK. It holds that connection's pipeline.
	AckTimeout time.Duration
	// Replicated, when set, waits until want other replicas of the shard
	// applied the published change-log entry index (ACK replicated: one;
	// WAIT numreplicas: numreplicas) and returns how many had; it returns
	// an error as well when fewer than want had when ctx ended. Index 0
	// counts every other replica. nil: ACK replicated is answered NOACK
	// and WAIT answers 0 (the store runs alone).
	Replicated func(ctx context.Context, keyspace string, shard uint32, index uint64, want int) (int, error)
	// Faults, when not nil, is the fault injection VFAULT drives (a store
	// started with --allow-faults); nil refuses VFAULT with NOFAULTS.
	Faults Faults
	// Observer, if set, is told of every command answered (for metrics).
	Observer Observer
	// ACL, when not nil, makes every connection authenticate (AUTH user
	// password, or HELLO 2 AUTH user password) and checks each command
	// against the user's rights on the connection's keyspace. nil: no
	// authentication. SetACL replaces it while the server runs.
	ACL *acl.ACL
	// TLS, when set, makes the listener speak TLS only (secure.TLSFiles
	// Server builds it): each connection's handshake runs on its own
	// goroutine within resp.DefaultHandshakeTimeout, and a client speaking
	// plaintext is answered resp.TLSRequiredReply and closed.
	TLS *tls.Config
}

// DefaultConfig returns a Config with defaults filled in.
func DefaultConfig(listen string, e *store.Engine) Config {
	lim := resp.DefaultLimits()
	lim.MaxArgs = 2*store.MaxBatchWrites + 2
	lim.MaxArgSize = store.MaxValueSize
	lim.MaxCommandSize = store.MaxBatchBytes + 2*store.MaxKeySize
	return Config{
		Listen:       listen,
		Engine:       e,
		Logger:       hclog.NewNullLogger(),
		MaxConns:     10000,
		MaxPipeline:  1024,
		Limits:       lim,
		WriteTimeout: DefaultWriteTimeout,
		DrainTimeout: DefaultDrainTimeout,
		AckTimeout:   DefaultAckTimeout,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Listen == "":
		return fmt.Errorf("%w: empty listen address", ErrInvalidConfig)
	case c.Engine == nil:
		return fmt.Errorf("%w: nil engine", ErrInvalidConfig)
	case c.Logger == nil:
		return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
	case c.MaxConns <= 0 || c.MaxPipeline <= 0:
		return fmt.Errorf("%w: max conns and max pipeline must be positive", ErrInvalidConfig)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("%w: write timeout must be positive", ErrInvalidConfig)
	case c.AckTimeout <= 0:
		return fmt.Errorf("%w: ack timeout %v", ErrInvalidConfig, c.AckTimeout)
	case c.DrainTimeout < 0:
		return fmt.Errorf("%w: negative drain timeout", ErrInvalidConfig)
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Server serves a store's shards over the Redis protocol (RESP2).
type Server struct {
	cfg Config
	log hclog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	started  bool
	stopping bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	// draining is set with stopping: connections answer the commands
	// they read from then on with CLOSED.
	draining atomic.Bool
	// quit is closed when Shutdown begins; force is closed (once) when the
	// connections that did not drain are to be closed; done when every
	// goroutine has ended.
	quit      chan struct{}
	force     chan struct{}
	forceOnce sync.Once
	done      chan struct{}
	// acl is the ACL in force (nil: none); each command reads it.
	acl atomic.Pointer[acl.ACL]
	// authFailures counts failed AUTH and HELLO AUTH.
	authFailures atomic.Uint64
	// snaps are the dump snapshots VSNAPSHOT opened.
	snaps snapshots
}

// New checks cfg and returns a server that is not started.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger.Named("server"),
		conns: make(map[*conn]struct{}),
		quit:  make(chan struct{}),
		force: make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.acl.Store(cfg.ACL)
	return s, nil
}

// SetACL replaces the ACL at once for every connection: each command is
// checked against the ACL in force when it runs, so a connection whose
// user the new ACL deletes or disables gets NOAUTH on its next command,
// and changed rights apply to the next command. nil turns authentication
// off.
func (s *Server) SetACL(a *acl.ACL) {
	s.acl.Store(a)
	s.log.Info("ACL replaced", "users", aclUsers(a))
}

// aclUsers counts an ACL's users for a log line (-1: no ACL).
func aclUsers(a *acl.ACL) int {
	if a == nil {
		return -1
	}
	return len(a.Users())
}

// AuthFailures returns how many AUTH (and HELLO AUTH) attempts failed.
func (s *Server) AuthFailures() uint64 { return s.authFailures.Load() }

// Start listens and serves in the background; it does not block.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.ln, s.started = ln, true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.wg.Add(1)
	go s.acceptLoop()
	s.log.Info("serving", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil)
	return nil
}

// Addr returns the address the server listens on (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// acceptLoop accepts connections until Shutdown closes the listener. A
// failed accept (EMFILE, ENFILE, ENOBUFS, ...) does not end it: it backs
// off and tries again, so the store serves again once descriptors are free.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	backoff := retry.Backoff{Min: acceptBackoffMin, Max: acceptBackoffMax}
	var (
		failures int       // in the current run of failures
		unlogged int       // failures not logged yet
		lastLog  time.Time // when a failure was last logged
		failedAt time.Time // start of the current run of failures
	)
	for {
		nc, err := s.ln.Accept()
		if err == nil {
			if failures > 0 {
				s.log.Info("accepting again", "failed_for", time.Since(failedAt).String(), "failures", failures)
			}
			failures, unlogged = 0, 0
			backoff.Reset()
			s.serve(nc)
			continue
		}
		if s.isStopping() {
			return
		}
		if errors.Is(err, net.ErrClosed) {
			// Nobody but Shutdown closes the listener.
			s.log.Error("listener closed; not accepting any more", "error", err)
			return
		}
		if failures == 0 {
			failedAt = time.Now()
		}
		failures++
		unlogged++
		if now := time.Now(); now.Sub(lastLog) >= acceptLogEvery {
			s.log.Error("accept failed; retrying", "error", err, "failures", unlogged, "retry_in", backoff.Current().String())
			lastLog, unlogged = now, 0
		}
		retry.SleepOrWake(context.Background(), backoff.Next(), s.quit)
		select {
		case <-s.quit:
			return
		default:
		}
	}
}

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// serve registers and starts a connection, or refuses it when the server is
// full or stopping.
func (s *Server) serve(nc net.Conn) {
	resp.ServeConn(&s.mu, s.conns, &s.wg, nc, resp.TLSAccept{Config: s.cfg.TLS, Logger: s.log},
		func() bool { return s.stopping || len(s.conns) >= s.cfg.MaxConns },
		func(nc net.Conn) *conn { return newConn(s, nc) }, (*conn).run)
}

// Shutdown stops accepting and lets each connection finish the commands it
// has read: their replies are flushed, and commands read from then on are
// answered CLOSED. Connections still open after DrainTimeout (a client that
// does not read its replies, for one) are closed, which unblocks their
// writes. Shutdown waits for every goroutine, or until ctx ends, which also
// closes the connections still open. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.started {
		s.started, s.stopping = true, true
		close(s.quit)
		close(s.done)
		s.mu.Unlock()
		return nil
	}
	first := !s.stopping
	if first {
		s.stopping = true
		s.draining.Store(true)
		close(s.quit)
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("close listener", "error", err)
		}
		for c := range s.conns {
			c.stop()
		}
	}
	s.mu.Unlock()
	if first {
		go s.finish()
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		select {
		case <-s.done: // both ready: done wins
		default:
			s.closeConns()
			return fmt.Errorf("server: shutdown: %w", ctx.Err())
		}
	}
	if first {
		s.log.Info("stopped")
	}
	return nil
}

// finish waits for the connections to drain, closes those that do not
// within DrainTimeout, and closes done once every goroutine has ended.
func (s *Server) finish() {
	ended := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(ended)
	}()
	t := time.NewTimer(s.cfg.DrainTimeout)
	select {
	case <-ended:
	case <-t.C:
		s.closeConns()
	case <-s.force:
	}
	t.Stop()
	<-ended
	s.cancel()
	s.snaps.releaseAll()
	close(s.done)
}

// closeConns closes the connections still open and cancels the server's
// context, ending commands that wait (VGET ... AFTER). Their replies are
// lost; writes already committed stay.
func (s *Server) closeConns() {
	s.forceOnce.Do(func() {
		s.mu.Lock()
		n := len(s.conns)
		for c := range s.conns {
			c.kill()
		}
		s.mu.Unlock()
		s.cancel()
		close(s.force)
		if n > 0 {
			s.log.Warn("closed connections that did not drain", "conns", n, "drain_timeout", s.cfg.DrainTimeout.String())
		}
	})
}

// stop interrupts a connection's blocking read; the commands already read
// are answered before the connection closes.
func (c *conn) stop() {
	_ = c.nc.SetReadDeadline(time.Now())
}

// kill closes a connection under its goroutine, unblocking a write to a
// client that does not read.
func (c *conn) kill() {
	_ = c.nc.Close()
}
