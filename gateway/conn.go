package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/wire"
)

// conn is one client connection. Its goroutine reads every command already
// pipelined, sends their store commands as one batch (Client.Do: split per
// shard, one pipeline per store, in parallel), and answers all of them in
// order with one flush.
type conn struct {
	g  *Gateway
	nc net.Conn
	r  *resp.Reader
	w  *resp.Writer

	keyspace string
	// sess is the user the connection authenticated as.
	sess acl.Session
	// The batch being built: the store commands, and the calls (client
	// commands) to answer from their replies, in order.
	cmds  []client.Command
	calls []call
	// tx holds the commands queued after MULTI; txBad is set when one was
	// refused (EXEC then aborts).
	inTx  bool
	tx    [][][]byte
	txBad bool
	scans wire.ScanCursors
	quit  bool
	// code is the error code of the last error reply, for the Observer.
	code string
}

func newConn(g *Gateway, nc net.Conn) *conn {
	return &conn{
		g:        g,
		nc:       nc,
		r:        resp.NewReader(nc, g.cfg.Limits),
		w:        resp.NewWriter(resp.DeadlineWriter{Conn: nc, Timeout: g.cfg.WriteTimeout}),
		keyspace: g.cfg.Keyspace,
	}
}

func (c *conn) run() {
	defer func() { _ = c.nc.Close() }()
	for !c.quit {
		for n := 0; ; n++ {
			args, err := c.r.ReadCommand()
			switch {
			case err != nil:
				if !c.readFailed(err) {
					return
				}
			case c.g.isStopping():
				c.local(call{kind: kError, err: errShuttingDown})
			case c.g.cfg.Observer != nil:
				c.observed(args)
			default:
				c.dispatch(args)
			}
			if c.quit || n+1 >= c.g.cfg.MaxPipeline || c.r.Buffered() == 0 {
				break
			}
		}
		c.flush()
		if err := c.w.Flush(); err != nil {
			c.g.log.Debug("write failed", "remote", c.nc.RemoteAddr().String(), "error", err)
			return
		}
	}
}

// stop interrupts a connection's blocking read; the commands already read
// are answered before it closes.
func (c *conn) stop() { _ = c.nc.SetReadDeadline(time.Now()) }

// readFailed answers a read error. It returns false when the connection
// must close.
func (c *conn) readFailed(err error) bool {
	if resp.IsRecoverable(err) {
		c.refuse(err) // inside MULTI, EXEC then aborts
		return true
	}
	c.flush()
	var ne net.Error
	if errors.As(err, &ne) || isEOF(err) {
		_ = c.w.Flush()
		return false
	}
	c.w.WriteError("ERR Protocol error: " + strings.TrimPrefix(err.Error(), "resp: protocol error: "))
	_ = c.w.Flush()
	return false
}

// isEOF reports whether err means the client's stream ended or the
// connection is gone.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// queue adds a store command to the batch and returns its index.
func (c *conn) queue(cmd client.Command) int {
	c.cmds = append(c.cmds, cmd)
	return len(c.cmds) - 1
}

// add queues a call answered from the store commands cmds[first:first+n].
func (c *conn) add(k kind, first, n int) {
	c.calls = append(c.calls, call{kind: k, first: first, n: n})
}

// local answers a call that needs no store, in order behind the batch.
func (c *conn) local(cl call) {
	if len(c.calls) == 0 {
		c.render(&cl, nil, nil)
		return
	}
	c.calls = append(c.calls, cl)
}

// flush sends the batch's store commands and answers its calls in order.
func (c *conn) flush() {
	if len(c.calls) == 0 {
		return
	}
	var reps []client.Reply
	var err error
	switch {
	case len(c.cmds) == 0:
	case c.keyspace == "":
		err = errNoKeyspace
	default:
		reps, err = c.g.batch.do(c.keyspace, c.cmds)
	}
	for i := range c.calls {
		c.code = ""
		c.render(&c.calls[i], reps, err)
		c.observeCall(&c.calls[i])
		c.calls[i] = call{}
	}
	clear(c.cmds)
	c.cmds, c.calls = c.cmds[:0], c.calls[:0]
}

// do sends store commands on the connection's keyspace, bounded by the
// request timeout.
func (c *conn) do(cmds []client.Command) ([]client.Reply, error) {
	if c.keyspace == "" {
		return nil, errNoKeyspace
	}
	ctx, cancel := context.WithTimeout(c.g.ctx, c.g.cfg.RequestTimeout)
	defer cancel()
	return c.g.cl.Do(ctx, c.keyspace, cmds)
}

// ctx returns the context of a command run alone, and its cancel.
func (c *conn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.g.ctx, c.g.cfg.RequestTimeout)
}
