package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// conn is one client connection. Its goroutine reads every command already
// pipelined, collects their writes into one commit per shard, then answers
// all of them in order with one flush.
type conn struct {
	srv *Server
	nc  net.Conn
	r   *resp.Reader
	w   *resp.Writer

	// The target selected with VUSE or SELECT.
	keyspace string
	shard    uint32

	// sess is the user the connection authenticated as.
	sess acl.Session

	pending pendingWrites
	// written is, per shard this connection wrote to, the highest
	// change-log index of its writes: what WAIT waits for.
	written map[*store.Shard]uint64
	scans   wire.ScanCursors
	quit    bool
	// code is the error code of the last error reply, for the Observer.
	code string
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:      s,
		nc:       nc,
		r:        resp.NewReader(nc, s.cfg.Limits),
		w:        resp.NewWriter(resp.DeadlineWriter{Conn: nc, Timeout: s.cfg.WriteTimeout}),
		keyspace: DefaultKeyspace,
	}
}

func (c *conn) run() {
	defer func() { _ = c.nc.Close() }()
	for !c.quit {
		n := 0
		for {
			args, err := c.r.ReadCommand()
			switch {
			case err != nil:
				if !c.readFailed(err) {
					if c.srv.draining.Load() && isTimeout(err) {
						c.linger()
					}
					return
				}
			case c.srv.draining.Load():
				// Read after Shutdown began: not executed.
				c.deferError(errShuttingDown)
			default:
				c.dispatch(args)
			}
			n++
			if c.quit || n >= c.srv.cfg.MaxPipeline || c.r.Buffered() == 0 {
				break
			}
		}
		c.flushWrites()
		if err := c.w.Flush(); err != nil {
			c.writeFailed(err)
			return
		}
	}
}

// errShuttingDown answers the commands a connection reads once the server
// is shutting down.
var errShuttingDown = fmt.Errorf("%w: server shutting down", store.ErrClosed)

// writeFailed logs why replies could not be written.
func (c *conn) writeFailed(err error) {
	if isTimeout(err) {
		c.srv.log.Warn("client reads no replies; closing its connection", "remote", c.nc.RemoteAddr().String(),
			"write_timeout", c.srv.cfg.WriteTimeout.String())
		return
	}
	c.srv.log.Debug("write failed", "remote", c.nc.RemoteAddr().String(), "error", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// lingerPoll is how long linger waits for more input before it closes.
const lingerPoll = 10 * time.Millisecond

// linger ends a connection Shutdown interrupted, once its replies are
// flushed: it sends FIN and discards the input already sent (commands
// never read) until none arrives for lingerPoll, or the client closes, or
// Shutdown closes the connection after the drain timeout. Closing with
// unread input in the socket would reset the connection, and the client's
// kernel would drop the replies it has not read yet, CLOSED ones included.
func (c *conn) linger() {
	// A TCP connection half-closes; a TLS one sends its close_notify alert
	// (the client reads the end of the stream) and then reads through TLS.
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(lingerPoll)); err != nil {
			return
		}
		if n, err := c.nc.Read(buf); n == 0 || err != nil {
			return
		}
	}
}

// readFailed answers a read error. It returns false when the connection
// must close.
func (c *conn) readFailed(err error) bool {
	if resp.IsRecoverable(err) {
		c.deferError(err)
		return true
	}
	c.flushWrites()
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || isEOF(err) {
		_ = c.w.Flush()
		return false
	}
	c.w.WriteError("ERR Protocol error: " + stripPrefix(err.Error()))
	_ = c.w.Flush()
	c.srv.log.Debug("protocol error", "remote", c.nc.RemoteAddr().String(), "error", err)
	return false
}

func stripPrefix(s string) string {
	return string(bytes.TrimPrefix([]byte(s), []byte("resp: protocol error: ")))
}
