package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A store's connections (storeConns): Config.Pipelines shared connections
// that every call multiplexes (pipeConn: a writer goroutine sends all the
// requests queued since its last write in one write, a reader goroutine
// matches the replies to them in order), and up to Config.PoolSize
// dedicated connections for the calls that wait server-side (a write
// WithAck above local, a read WithAfter or hedged, WAIT and the blocking
// commands of Do), one call at a time, so they do not hold up the shared
// ones.

// connConfig is what connecting to a store takes.
type connConfig struct {
	addr                                   string
	dialTimeout, readTimeout, writeTimeout time.Duration
	username, password                     string
	tls                                    *tls.Config
}

// request is one call's commands, sent in one piece on one connection, and
// their replies.
type request struct {
	buf []byte // the encoded commands
	n   int    // replies expected
	// wait is how long the store may wait server-side before it answers
	// (VGET ... AFTER ... TIMEOUT): on top of the read timeout.
	wait time.Duration
	// vals are the replies (errorReply for an error reply), valid once
	// done is closed with err nil.
	vals []any
	got  int
	err  error // the connection's failure, set before done is closed
	done chan struct{}
	// abandoned is set by a caller that stopped waiting: a request not
	// sent yet is dropped, a sent one's replies are read and dropped.
	abandoned atomic.Bool
	// release, when set, runs once the request is complete (a dedicated
	// connection goes back to its pool only once its reply is read).
	release func()
}

func newRequest(cb *cmdBuf, wait time.Duration) *request {
	return &request{buf: cb.b, n: cb.n, wait: wait, vals: make([]any, cb.n), done: make(chan struct{})}
}

// finish completes r; exactly one of the connection's goroutines (or fail)
// calls it, once.
func (r *request) finish(err error) {
	r.err = err
	close(r.done)
	if r.release != nil {
		r.release()
	}
}

// pipeConn is one connection to a store that carries the requests of many
// calls, in order.
type pipeConn struct {
	cfg    *connConfig
	nc     net.Conn
	rd     *replyReader
	bw     *bufio.Writer
	onDead func(*pipeConn)
	dead   atomic.Bool

	mu     sync.Mutex
	queue  []*request // not written yet
	flight []*request // written, replies pending, oldest first
	// idle is set while the reader waits for the stream with no request in
	// flight (and no read deadline): the writer sets the deadline when it
	// sends the next request.
	idle bool
	err  error // why the connection failed; set once
	wake chan struct{}
	quit chan struct{}
}

// startConn starts the goroutines of a connection set up by dial.
func startConn(cfg *connConfig, nc net.Conn, rd *replyReader, wg *sync.WaitGroup, onDead func(*pipeConn)) *pipeConn {
	p := &pipeConn{cfg: cfg, nc: nc, rd: rd, bw: bufio.NewWriterSize(nc, 64<<10), onDead: onDead,
		wake: make(chan struct{}, 1), quit: make(chan struct{})}
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.writeLoop()
	}()
	go func() {
		defer wg.Done()
		p.readLoop()
	}()
	return p
}

// enqueue queues r for the writer; it fails with the connection's error
// once the connection failed.
func (p *pipeConn) enqueue(r *request) error {
	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		return err
	}
	p.queue = append(p.queue, r)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits for r's replies, or until ctx ends: the caller returns at
// once and r is abandoned (its replies, if it was sent, are read and
// dropped later, so the stream stays in order).
func (r *request) waitFor(ctx context.Context) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		r.abandoned.Store(true)
		return ctx.Err()
	}
}

// writeLoop sends the queued requests: everything queued goes into the
// buffer, which is flushed (one write, for small requests) once the queue
// is empty.
func (p *pipeConn) writeLoop() {
	var batch, dropped []*request
	for {
		select {
		case <-p.wake:
		case <-p.quit:
			return
		}
		for {
			p.mu.Lock()
			if p.err != nil {
				p.mu.Unlock()
				return
			}
			batch, dropped = batch[:0], dropped[:0]
			for _, r := range p.queue {
				if r.abandoned.Load() {
					dropped = append(dropped, r) // never sent
				} else {
					batch = append(batch, r)
				}
			}
			clear(p.queue)
			p.queue = p.queue[:0]
			if len(batch) > 0 && p.idle {
				p.idle = false
				_ = p.nc.SetReadDeadline(time.Now().Add(p.cfg.readTimeout + batch[0].wait))
			}
			p.flight = append(p.flight, batch...)
			p.mu.Unlock()
			for _, r := range dropped {
				r.finish(context.Canceled)
			}
			if len(batch) == 0 {
				break
			}
			_ = p.nc.SetWriteDeadline(time.Now().Add(p.cfg.writeTimeout))
			for _, r := range batch {
				if _, err := p.bw.Write(r.buf); err != nil {
					p.fail(err)
					return
				}
			}
			p.mu.Lock()
			empty := len(p.queue) == 0
			p.mu.Unlock()
			if empty {
				if err := p.bw.Flush(); err != nil {
					p.fail(err)
					return
				}
				break
			}
		}
		clear(batch)
	}
}

// readLoop reads the replies and hands them to the requests in flight, in
// order.
func (p *pipeConn) readLoop() {
	var cur *request
	for {
		p.mu.Lock()
		if p.err != nil {
			p.mu.Unlock()
			return
		}
		if len(p.flight) == 0 {
			// Wait for the stream without a deadline: a store that closes
			// an idle connection is noticed at once, not at the next call.
			p.idle = true
			_ = p.nc.SetReadDeadline(time.Time{})
			p.mu.Unlock()
			if err := p.rd.peek(); err != nil {
				p.fail(err)
				return
			}
			p.mu.Lock()
			p.idle = false
			unsolicited := len(p.flight) == 0
			p.mu.Unlock()
			if unsolicited {
				p.fail(malformed("reply with no request in flight"))
				return
			}
			continue
		}
		r := p.flight[0]
		p.mu.Unlock()
		if r != cur {
			cur = r
			_ = p.nc.SetReadDeadline(time.Now().Add(p.cfg.readTimeout + r.wait))
		}
		v, err := p.rd.read()
		if err != nil {
			p.fail(err)
			return
		}
		p.mu.Lock()
		if p.err != nil {
			p.mu.Unlock()
			return
		}
		r.vals[r.got] = v
		r.got++
		complete := r.got == r.n
		if complete {
			p.flight[0] = nil
			p.flight = p.flight[1:]
		}
		p.mu.Unlock()
		if complete {
			r.finish(nil)
		}
	}
}

// fail closes the connection and fails every request queued or in flight
// on it with err (retryable: the client's retries send them elsewhere).
func (p *pipeConn) fail(err error) {
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return
	}
	if !errors.Is(err, errConnClosed) && !errors.Is(err, errMalformed) {
		err = fmt.Errorf("connection to %s: %w", p.cfg.addr, err)
	}
	p.err = err
	reqs := append(p.flight, p.queue...)
	p.flight, p.queue = nil, nil
	close(p.quit)
	p.mu.Unlock()
	p.dead.Store(true)
	_ = p.nc.Close()
	for _, r := range reqs {
		r.finish(err)
	}
	if p.onDead != nil {
		p.onDead(p)
	}
}

// storeConns are the connections of one store.
type storeConns struct {
	cfg  connConfig
	wg   sync.WaitGroup
	next atomic.Uint32

	mu     sync.Mutex
	closed bool
	slots  []connSlot  // the shared connections
	idle   []*pipeConn // dedicated connections not in use
	all    map[*pipeConn]struct{}
	tokens chan struct{} // one per dedicated connection in use
}

// connSlot is one shared connection, dialled on first use and again after
// it failed.
type connSlot struct {
	conn    *pipeConn
	dialing chan struct{} // closed when the dial in progress ends
}

func newStoreConns(cfg connConfig, pipelines, poolSize int) *storeConns {
	return &storeConns{cfg: cfg, slots: make([]connSlot, pipelines), all: map[*pipeConn]struct{}{},
		tokens: make(chan struct{}, poolSize)}
}

// do sends r on a shared connection, or a dedicated one, and waits for its
// replies or the end of ctx.
func (s *storeConns) do(ctx context.Context, r *request, dedicated bool) error {
	for try := 0; ; try++ {
		var c *pipeConn
		var err error
		if dedicated {
			c, err = s.dedicated(ctx, r)
		} else {
			c, err = s.shared(ctx)
		}
		if err != nil {
			return err
		}
		err = c.enqueue(r)
		if err == nil {
			return r.waitFor(ctx)
		}
		if r.release != nil {
			r.release()
			r.release = nil
		}
		if try > 0 || errors.Is(err, errConnClosed) {
			return err
		}
		// The connection failed since it was picked: once more on a new one.
	}
}

// shared returns one of the shared connections (in turn), dialling it if
// needed.
func (s *storeConns) shared(ctx context.Context) (*pipeConn, error) {
	i := int(s.next.Add(1) % uint32(len(s.slots)))
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errConnClosed
		}
		sl := &s.slots[i]
		if c := sl.conn; c != nil && !c.dead.Load() {
			s.mu.Unlock()
			return c, nil
		}
		if ch := sl.dialing; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		sl.dialing = ch
		s.mu.Unlock()
		c, err := s.dial(ctx)
		s.mu.Lock()
		sl.dialing = nil
		if err == nil {
			sl.conn = c
		}
		s.mu.Unlock()
		close(ch)
		return c, err
	}
}

// dedicated returns a dedicated connection for r (idle or dialled) and sets
// r.release to give it back once r is complete.
func (s *storeConns) dedicated(ctx context.Context, r *request) (*pipeConn, error) {
	select {
	case s.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var c *pipeConn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.tokens
		return nil, errConnClosed
	}
	for len(s.idle) > 0 && c == nil {
		n := len(s.idle) - 1
		if !s.idle[n].dead.Load() {
			c = s.idle[n]
		}
		s.idle[n] = nil
		s.idle = s.idle[:n]
	}
	s.mu.Unlock()
	if c == nil {
		var err error
		if c, err = s.dial(ctx); err != nil {
			<-s.tokens
			return nil, err
		}
	}
	r.release = func() {
		s.mu.Lock()
		if !s.closed && !c.dead.Load() {
			s.idle = append(s.idle, c)
		}
		s.mu.Unlock()
		<-s.tokens
	}
	return c, nil
}

// dial connects to the store: TCP, TLS when configured, and HELLO 2 (with
// AUTH when the client has a password), then starts the connection's
// goroutines.
func (s *storeConns) dial(ctx context.Context) (*pipeConn, error) {
	cfg := &s.cfg
	d := net.Dialer{Timeout: cfg.dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", cfg.addr)
	if err != nil {
		return nil, err
	}
	if cfg.tls != nil {
		tc := tls.Client(nc, cfg.tls)
		hctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	rd := newReplyReader(nc)
	if err := hello(ctx, cfg, nc, rd); err != nil {
		_ = nc.Close()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return nil, errConnClosed
	}
	c := startConn(cfg, nc, rd, &s.wg, s.forget)
	s.all[c] = struct{}{}
	return c, nil
}

// hello sends HELLO 2 (AUTH username password when there is a password)
// on a new connection and reads its reply.
func hello(ctx context.Context, cfg *connConfig, nc net.Conn, rd *replyReader) error {
	var cb cmdBuf
	if cfg.password != "" {
		user := cfg.username
		if user == "" {
			user = "default"
		}
		cb.add("HELLO", "2", "AUTH", user, cfg.password)
	} else {
		cb.add("HELLO", "2")
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = nc.SetWriteDeadline(time.Now().Add(cfg.writeTimeout))
	if _, err := nc.Write(cb.b); err != nil {
		return ctxOr(ctx, err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(cfg.readTimeout))
	v, err := rd.read()
	if err != nil {
		return ctxOr(ctx, err)
	}
	if !stop() {
		return ctx.Err()
	}
	if e, ok := v.(errorReply); ok && cfg.password != "" {
		// A server without HELLO takes the commands anyway; one that
		// refuses the credentials answers WRONGPASS.
		return e
	}
	_ = nc.SetDeadline(time.Time{})
	return nil
}

// ctxOr returns ctx's error when ctx ended (the deadline it forced made the
// I/O fail), else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// forget drops a failed connection.
func (s *storeConns) forget(c *pipeConn) {
	s.mu.Lock()
	delete(s.all, c)
	s.mu.Unlock()
}

// close closes every connection, fails the requests on them
// (errConnClosed) and waits for their goroutines.
func (s *storeConns) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*pipeConn, 0, len(s.all))
	for c := range s.all {
		conns = append(conns, c)
	}
	s.idle = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.fail(errConnClosed)
	}
	s.wg.Wait()
}

// ping sends PING on every shared connection, dialling them (tests use it
// to hold connections before a store freezes).
func (s *storeConns) ping(ctx context.Context) error {
	for range s.slots {
		var cb cmdBuf
		cb.add("PING")
		r := newRequest(&cb, 0)
		if err := s.do(ctx, r, false); err != nil {
			return err
		}
		if e, ok := r.vals[0].(errorReply); ok {
			return e
		}
	}
	return nil
}
