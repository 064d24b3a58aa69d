package chaos

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProxyControl(t *testing.T) {
	p := NewProxy(echoServer(t))
	require.NoError(t, p.Start(context.Background(), "127.0.0.1:0"))
	defer p.Shutdown()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: ProxyControl(p), ReadHeaderTimeout: time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-done }()
	ctx := context.Background()
	c, err := NewProxyClient(ln.Addr().String())
	require.NoError(t, err)
	defer c.hc.CloseIdleConnections()

	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, ProxyStatus{Listen: p.Addr(), Target: p.target}, st)

	st, err = c.Slow(ctx, 50*time.Millisecond, 4096)
	require.NoError(t, err)
	require.Equal(t, int64(50*time.Millisecond), st.LatencyNS)
	require.Equal(t, int64(4096), st.BytesPerSec)
	lat, bps := p.Shaping()
	require.Equal(t, 50*time.Millisecond, lat)
	require.Equal(t, int64(4096), bps)

	st, err = c.Fast(ctx)
	require.NoError(t, err)
	require.Zero(t, st.LatencyNS)
	st, err = c.Cut(ctx)
	require.NoError(t, err)
	require.True(t, st.Cut)
	require.True(t, p.IsCut())
	st, err = c.Restore(ctx)
	require.NoError(t, err)
	require.False(t, st.Cut)

	// Bad input: refused, nothing changed.
	_, err = c.Slow(ctx, -time.Second, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	resp, err := http.Post("http://"+ln.Addr().String()+"/slow?latency=soon", "", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Get("http://" + ln.Addr().String() + "/cut")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.False(t, p.IsCut())
	lat, _ = p.Shaping()
	require.Zero(t, lat)
	http.DefaultClient.CloseIdleConnections()

	for _, addr := range []string{"10.0.0.1:7000", "localhost:7000", "127.0.0.1", ":7000"} {
		_, err := NewProxyClient(addr)
		require.ErrorIs(t, err, ErrInvalidArgument, addr)
	}
}
