package store

import (
	"bytes"
	"errors"
	"net"

	"github.com/vasto-kv/vasto/store/resp"
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

	pending pendingWrites
	scans   scanCursors
	quit    bool
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:      s,
		nc:       nc,
		r:        resp.NewReader(nc, s.cfg.Limits),
		w:        resp.NewWriter(nc),
		keyspace: DefaultKeyspace,
	}
}

func (c *conn) run() {
	defer func() { _ = c.nc.Close() }()
	log := c.srv.log
	for !c.quit {
		n := 0
		for {
			args, err := c.r.ReadCommand()
			if err != nil {
				if !c.readFailed(err) {
					return
				}
			} else {
				c.dispatch(args)
			}
			n++
			if c.quit || n >= c.srv.cfg.MaxPipeline || c.r.Buffered() == 0 {
				break
			}
		}
		c.flushWrites()
		if err := c.w.Flush(); err != nil {
			log.Debug("write failed", "remote", c.nc.RemoteAddr().String(), "error", err)
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
