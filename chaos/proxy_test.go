package chaos

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server's own goroutine waiting (up to 30 s) for a source
		// consumer reply that never comes; it holds nothing of ours.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"))
}

// tcpServer serves each connection of a loopback listener with handle
// (which need not close it) until the test ends; it returns the address.
func tcpServer(t *testing.T, handle func(c net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// echoServer echoes lines until the listener closes.
func echoServer(t *testing.T) string {
	return tcpServer(t, func(c net.Conn) {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			if _, err := c.Write(append(sc.Bytes(), '\n')); err != nil {
				return
			}
		}
	})
}

func roundTrip(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxyCutAndRestore(t *testing.T) {
	p := NewProxy(echoServer(t))
	require.NoError(t, p.Start(context.Background(), "127.0.0.1:0"))
	defer p.Shutdown()

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	require.NoError(t, roundTrip(c))

	p.Cut()
	require.True(t, p.IsCut())
	require.Error(t, roundTrip(c), "a cut closes established connections")
	_ = c.Close()
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		require.Error(t, roundTrip(c2), "a cut refuses new connections")
		_ = c2.Close()
	}

	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c3.Close()
	require.NoError(t, roundTrip(c3))
	p.Shutdown()
	p.Shutdown()
}

// timedRoundTrip dials the proxy and returns how long one echo took.
func timedRoundTrip(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	require.NoError(t, roundTrip(c))
	return time.Since(start)
}

func TestProxySlowDelaysBothDirections(t *testing.T) {
	p := NewProxy(echoServer(t))
	require.NoError(t, p.Start(context.Background(), "127.0.0.1:0"))
	defer p.Shutdown()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.Less(t, timedRoundTrip(t, c), 200*time.Millisecond, "not shaped")

	const latency = 150 * time.Millisecond
	p.Slow(latency, 0)
	lat, bps := p.Shaping()
	require.Equal(t, latency, lat)
	require.Zero(t, bps)
	// The connection opened before Slow is delayed too, once each way.
	took := timedRoundTrip(t, c)
	require.GreaterOrEqual(t, took, 2*latency)
	require.Less(t, took, 2*latency+time.Second)

	p.Fast()
	lat, bps = p.Shaping()
	require.Zero(t, lat)
	require.Zero(t, bps)
	require.Less(t, timedRoundTrip(t, c), 2*latency)

	p.Slow(-time.Second, -5)
	lat, bps = p.Shaping()
	require.Zero(t, lat, "negative counts as none")
	require.Zero(t, bps)
}

// sinkServer reads size bytes from each connection and then answers "done".
func sinkServer(t *testing.T, size int) string {
	return tcpServer(t, func(c net.Conn) {
		if _, err := io.CopyN(io.Discard, c, int64(size)); err == nil {
			_, _ = c.Write([]byte("done\n"))
		}
	})
}

// transfer sends size bytes through the proxy and returns how long it took
// until the far end had them all.
func transfer(t *testing.T, addr string, size int) time.Duration {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	start := time.Now()
	_, err = c.Write(make([]byte, size))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "done\n", line)
	return time.Since(start)
}

func TestProxyBandwidthCap(t *testing.T) {
	const size = 256 << 10
	p := NewProxy(sinkServer(t, size))
	require.NoError(t, p.Start(context.Background(), "127.0.0.1:0"))
	defer p.Shutdown()
	fast := transfer(t, p.Addr(), size)

	const bps = 512 << 10 // the transfer takes half a second
	p.Slow(0, bps)
	took := transfer(t, p.Addr(), size)
	t.Logf("%d KiB: %s unshaped, %s at %d KiB/s", size>>10, fast, took, bps>>10)
	// The first twentieth of a second's worth goes at once.
	require.GreaterOrEqual(t, took, 450*time.Millisecond)
	require.Less(t, took, 3*time.Second)
	require.Less(t, fast, 450*time.Millisecond)
}

func TestProxyShutdownDoesNotWaitForTheDelay(t *testing.T) {
	p := NewProxy(echoServer(t))
	require.NoError(t, p.Start(context.Background(), "127.0.0.1:0"))
	p.Slow(time.Hour, 0)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("ping\n"))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { p.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown waits for the delayed chunk")
	}
}
