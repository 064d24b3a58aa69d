package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/store/resp"
)

// DefaultKeyspace is the keyspace a connection uses until it selects
// another; a store started alone serves it as one shard.
const DefaultKeyspace = "default"

// ServerConfig configures the RESP server of a store.
type ServerConfig struct {
	// Listen is the TCP address to listen on, e.g. 127.0.0.1:6380.
	Listen string
	// Engine holds the shards the server serves.
	Engine *Engine
	// Logger receives the server's logs.
	Logger hclog.Logger
	// MaxConns bounds concurrent client connections.
	MaxConns int
	// MaxPipeline bounds how many pipelined commands are handled as one
	// batch before their replies are flushed.
	MaxPipeline int
	// Limits bound what one command may carry.
	Limits resp.Limits
}

// DefaultServerConfig returns a ServerConfig with defaults filled in.
func DefaultServerConfig(listen string, e *Engine) ServerConfig {
	lim := resp.DefaultLimits()
	lim.MaxArgs = 2*MaxBatchWrites + 2
	lim.MaxArgSize = MaxValueSize
	lim.MaxCommandSize = MaxBatchBytes + 2*MaxKeySize
	return ServerConfig{
		Listen:      listen,
		Engine:      e,
		Logger:      hclog.NewNullLogger(),
		MaxConns:    10000,
		MaxPipeline: 1024,
		Limits:      lim,
	}
}

// Validate reports the first problem with c.
func (c ServerConfig) Validate() error {
	switch {
	case c.Listen == "":
		return fmt.Errorf("%w: empty listen address", ErrInvalidConfig)
	case c.Engine == nil:
		return fmt.Errorf("%w: nil engine", ErrInvalidConfig)
	case c.Logger == nil:
		return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
	case c.MaxConns <= 0 || c.MaxPipeline <= 0:
		return fmt.Errorf("%w: max conns and max pipeline must be positive", ErrInvalidConfig)
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Server serves a store's shards over the Redis protocol (RESP2).
type Server struct {
	cfg ServerConfig
	log hclog.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	started  bool
	stopping bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	done     chan struct{}
}

// NewServer checks cfg and returns a server that is not started.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{
		cfg:   cfg,
		log:   cfg.Logger.Named("server"),
		conns: make(map[*conn]struct{}),
		done:  make(chan struct{}),
	}, nil
}

// Start listens and serves in the background; it does not block.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("store: server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	s.ln, s.started = ln, true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.wg.Add(1)
	go s.acceptLoop()
	s.log.Info("serving", "addr", ln.Addr().String())
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

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.isStopping() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("accept failed", "error", err)
			return
		}
		s.serve(nc)
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
	s.mu.Lock()
	if s.stopping || len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		_ = nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Shutdown stops accepting, lets each connection finish the batch it is
// handling, closes the connections and waits for every goroutine, or until
// ctx ends. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.started {
		s.started, s.stopping = true, true
		close(s.done)
		s.mu.Unlock()
		return nil
	}
	first := !s.stopping
	if first {
		s.stopping = true
		_ = s.ln.Close()
		for c := range s.conns {
			c.stop()
		}
	}
	s.mu.Unlock()
	if first {
		go func() {
			s.wg.Wait()
			s.cancel()
			close(s.done)
		}()
	}
	select {
	case <-s.done:
		if first {
			s.log.Info("stopped")
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: server shutdown: %w", ctx.Err())
	}
}

// stop interrupts a connection's blocking read; the batch in hand is
// answered before the connection closes.
func (c *conn) stop() {
	_ = c.nc.SetReadDeadline(time.Now())
}
