package server

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

// byteConn is a net.Conn that reads a fixed input and discards what is
// written, so the fuzzer can drive a real connection handler over a real
// engine without sockets.
type byteConn struct {
	r   *bytes.Reader
	out int
}

func (c *byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { c.out += len(p); return len(p), nil }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*byteConn)(nil)

// FuzzServerCommands feeds arbitrary bytes to a connection handler over a
// real engine: it must never panic, and the change log must stay gap-free.
func FuzzServerCommands(f *testing.F) {
	for _, seed := range []string{
		"SET k v\r\nGET k\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n",
		"VSET k v EVENTTIME 1699999999000000000 PX 100\r\nVGET k\r\nVLOG 1 COUNT 5\r\n",
		"MSET a 1 b 2\r\nMGET a b c\r\nSCAN 0 MATCH a* COUNT 2\r\nVSCAN PREFIX a LIMIT 1 WITHVERSIONS\r\n",
		"VUSE default 0\r\nSELECT 0\r\nEXISTS a\r\nPTTL a\r\nTTL a\r\nDBSIZE\r\nINFO\r\nVLOGINFO\r\n",
		"*1\r\n$4294967296\r\n",
		"VDEL k EVENTTIME -1\r\nSET k v EX 0\r\nPING\r\nECHO x\r\nQUIT\r\n",
		"\"unbalanced\r\n",
	} {
		f.Add([]byte(seed))
	}
	// Logging through f from inside the fuzz function is not allowed.
	e, _ := testEngine(f, func(c *store.Config) { c.Logger = hclog.NewNullLogger() })
	sh, err := e.CreateShard(DefaultKeyspace, 0)
	require.NoError(f, err)
	cfg := DefaultConfig("127.0.0.1:0", e)
	cfg.Logger = hclog.NewNullLogger()
	srv, err := New(cfg)
	require.NoError(f, err)
	srv.ctx = f.Context()
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newConn(srv, &byteConn{r: bytes.NewReader(in)})
		c.run()
		first, last := sh.LogBounds()
		if last >= first {
			entries, err := sh.ReadLog(last, 1)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			require.Equal(t, last, entries[0].Index)
		}
	})
}
