package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
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
func bigValue(t testing.TB, e *Engine, key string) {
	t.Helper()
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	_, err = sh.Put(context.Background(), []byte(key), bytes.Repeat([]byte{'v'}, MaxValueSize))
	require.NoError(t, err)
}

// stuckClient connects to addr with a small receive buffer, pipelines n
// GETs of key and then the commands in more, all in one write, and never
// reads a reply. It returns once
// replies pile up unread, that is, once the server has read the GETs: with
// n large values it then blocks writing replies nobody reads.
func stuckClient(t testing.TB, addr, key string, n int, more ...string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.(*net.TCPConn).SetReadBuffer(64<<10))
	cmd := fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
	_, err = nc.Write([]byte(strings.Repeat(cmd, n) + strings.Join(more, "")))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return unreadBytes(t, nc) >= 32<<10 },
		10*time.Second, 5*time.Millisecond, "no replies arrived")
	return nc
}

// closedByPeer reads nc to its end and reports whether the peer closed it
// (rather than the read timing out).
func closedByPeer(t testing.TB, nc net.Conn) bool {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func (s *Server) numConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// TestServerShutdownClosesConnThatDoesNotRead: a client pipelines GETs of
// large values and reads nothing, so the server blocks writing their
// replies. Shutdown still returns promptly, closing that connection.
func TestServerShutdownClosesConnThatDoesNotRead(t *testing.T) {
	srv, e := testServer(t, nil)
	bigValue(t, e, "big")
	nc := stuckClient(t, srv.Addr().String(), "big", 64)

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
	srv, e := testServer(t, func(c *ServerConfig) { c.WriteTimeout = 300 * time.Millisecond })
	bigValue(t, e, "big")
	nc := stuckClient(t, srv.Addr().String(), "big", 64)
	require.Eventually(t, func() bool { return srv.numConns() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the connection that reads nothing is still open")
	require.True(t, closedByPeer(t, nc))

	rc := testClient(t, srv)
	require.Equal(t, "PONG", rc.Ping(context.Background()).Val())
}

// TestServerShutdownAnswersClosed: commands a connection has read but not
// started when Shutdown begins are answered CLOSED, not executed; the
// replies of the commands it did execute are delivered first.
func TestServerShutdownAnswersClosed(t *testing.T) {
	srv, e := testServer(t, func(c *ServerConfig) { c.DrainTimeout = 20 * time.Second })
	bigValue(t, e, "big")
	const gets = 64
	// The server blocks writing the replies of the first GETs; PING was
	// read with them (one segment) and waits behind them.
	nc := stuckClient(t, srv.Addr().String(), "big", gets, "PING\r\n")

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	// Shutdown begins while the connection is blocked; only then read.
	require.Eventually(t, srv.draining.Load, 10*time.Second, time.Millisecond)

	require.NoError(t, nc.SetReadDeadline(time.Now().Add(20*time.Second)))
	br := bufio.NewReader(nc)
	var values, closed int
	var replies []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "$"):
			n, err := strconv.Atoi(line[1:])
			require.NoError(t, err)
			require.Equal(t, MaxValueSize, n)
			_, err = io.CopyN(io.Discard, br, int64(n+2))
			require.NoError(t, err)
			values++
			replies = append(replies, "value")
		default:
			replies = append(replies, line)
			if line == "-CLOSED closed: server shutting down" {
				closed++
			}
		}
	}
	// The server waits for the client to close after its FIN.
	require.NoError(t, nc.Close())
	require.NoError(t, <-stopped)
	require.Equal(t, gets+1, values+closed, "every command is answered once: %v", replies)
	require.Positive(t, values)
	require.Positive(t, closed)
	require.Equal(t, "-CLOSED closed: server shutting down", replies[len(replies)-1])
	for i, r := range replies[values:] {
		require.NotEqual(t, "value", r, "reply %d: a value after CLOSED", values+i)
	}
}
