package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ServerConfig configures the HTTP server of a registry.
type ServerConfig struct {
	// Listen is the TCP address to serve /metrics on, e.g.
	// 127.0.0.1:9100 (port 0: any free port).
	Listen   string
	Registry *Registry
	Logger   hclog.Logger
}

// Validate reports the first problem with c.
func (c ServerConfig) Validate() error {
	switch {
	case c.Registry == nil || c.Logger == nil:
		return fmt.Errorf("%w: registry and logger are required", ErrInvalidConfig)
	case c.Listen == "":
		return fmt.Errorf("%w: empty listen address", ErrInvalidConfig)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: listen address %q: %w", ErrInvalidConfig, c.Listen, err)
	}
	return nil
}

// Server serves a registry on /metrics over HTTP.
type Server struct {
	cfg ServerConfig

	mu      sync.Mutex
	started bool
	stopped bool
	srv     *http.Server
	ln      net.Listener
	done    chan struct{}
}

// NewServer checks cfg and returns a server that is not started.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, done: make(chan struct{})}, nil
}

// Start listens and serves in the background; it does not block.
func (s *Server) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return ErrStopped
	case s.started:
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("metrics: listen: %w", err)
	}
	s.started = true
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.cfg.Registry.Handler())
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("metrics server failed", "error", err)
		}
	}()
	s.cfg.Logger.Info("serving metrics", "addr", ln.Addr().String())
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

// Shutdown stops serving and waits for the server's goroutine. It is
// idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
