package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

// unreadBytes returns how many received bytes wait unread in nc's socket.
func unreadBytes(t testing.TB, nc net.Conn) int {
	t.Helper()
	rc, err := nc.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var n int32
	var errno syscall.Errno
	require.NoError(t, rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}))
	if errno != 0 {
		require.NoError(t, errno)
	}
	return int(n)
}

// bigValue stores a value of the largest size under key in the default
// shard, for replies that fill the socket buffers quickly.
func bigValue(t testing.TB, e *store.Engine, key string) {
	t.Helper()
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	_, err = sh.Put(context.Background(), []byte(key), bytes.Repeat([]byte{'v'}, store.MaxValueSize))
	require.NoError(t, err)
}

// mgetBig is MGET of the key "big" n times, as RESP.
func mgetBig(n int) string {
	return fmt.Sprintf("*%d\r\n$4\r\nMGET\r\n", n+1) + strings.Repeat("$3\r\nbig\r\n", n)
}

// stuckClient connects to addr with a small receive buffer, sends mgetBig(16)
// and then the commands in more, all in one write, and never reads a reply.
// It returns once the reply has begun to pile up unread: the server has read
// the commands and is blocked writing that reply, which is far larger than
// the socket buffers (128 KiB here, at most 4 MiB on the server's side).
func stuckClient(t testing.TB, addr string, more ...string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.(*net.TCPConn).SetReadBuffer(64<<10))
	_, err = nc.Write([]byte(mgetBig(16) + strings.Join(more, "")))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return unreadBytes(t, nc) >= 32<<10 },
		10*time.Second, 5*time.Millisecond, "no reply arrived")
	return nc
}

// closedByPeer reads nc to its end and reports whether the peer closed it
// (rather than the read timing out).
func closedByPeer(t testing.TB, nc net.Conn) bool {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

func (s *Server) numConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// TestServerShutdownClosesConnThatDoesNotRead: a client asks for large
// values and reads nothing, so the server blocks writing the reply.
// Shutdown still returns promptly, closing that connection.
func TestServerShutdownClosesConnThatDoesNotRead(t *testing.T) {
	srv, e := testServer(t, nil)
	bigValue(t, e, "big")
	nc := stuckClient(t, srv.Addr().String())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, srv.Shutdown(ctx))
	require.Less(t, time.Since(start), 2*time.Second, "shutdown waited for a client that does not read")
	require.Zero(t, srv.numConns())
	require.True(t, closedByPeer(t, nc))
}

// TestServerDropsClientThatDoesNotRead: a client that reads no reply for
// the write timeout is disconnected while the server keeps serving others.
func TestServerDropsClientThatDoesNotRead(t *testing.T) {
	srv, e := testServer(t, func(c *Config) { c.WriteTimeout = 300 * time.Millisecond })
	bigValue(t, e, "big")
	nc := stuckClient(t, srv.Addr().String())
	require.Eventually(t, func() bool { return srv.numConns() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the connection that reads nothing is still open")
	require.True(t, closedByPeer(t, nc))

	rc := testClient(t, srv)
	require.Equal(t, "PONG", rc.Ping(context.Background()).Val())
}

// TestServerShutdownAnswersClosed: commands a connection has read but not
// started when Shutdown begins are answered CLOSED, not executed; the
// reply of the command it was executing is delivered first.
func TestServerShutdownAnswersClosed(t *testing.T) {
	srv, e := testServer(t, func(c *Config) { c.DrainTimeout = 20 * time.Second })
	bigValue(t, e, "big")
	// The server blocks writing the MGET reply; the commands after it were
	// read with it (one segment) and wait behind it.
	const after = 3
	nc := stuckClient(t, srv.Addr().String(), strings.Repeat("SET k v\r\nPING\r\n", after))

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	// Shutdown begins while the connection is blocked; only then read.
	require.Eventually(t, srv.draining.Load, 10*time.Second, time.Millisecond)

	require.NoError(t, nc.SetReadDeadline(time.Now().Add(20*time.Second)))
	br := bufio.NewReader(nc)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "*16\r\n", line)
	for range 16 {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("$%d\r\n", store.MaxValueSize), line)
		_, err = io.CopyN(io.Discard, br, store.MaxValueSize+2)
		require.NoError(t, err)
	}
	for range 2 * after {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "-CLOSED closed: server shutting down\r\n", line)
	}
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes the connection cleanly")
	require.NoError(t, <-stopped)

	// The SETs answered CLOSED were not executed.
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	_, err = sh.Get([]byte("k"))
	require.ErrorIs(t, err, store.ErrNotFound)
}
