package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/server/resp"
)

// tlsServer starts a store server whose port speaks TLS with a fresh dev
// CA's node certificate (clientAuth: client certificates required).
func tlsServer(t *testing.T, clientAuth bool) (*Server, secure.DevFiles) {
	t.Helper()
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	files := d.Node()
	files.ClientAuth = clientAuth
	cfg, err := files.Server()
	require.NoError(t, err)
	srv, _ := testServer(t, func(c *Config) { c.TLS = cfg })
	return srv, d
}

// tlsClient returns a go-redis client of srv over TLS with files.
func tlsClient(t *testing.T, srv *Server, files secure.TLSFiles) *redis.Client {
	t.Helper()
	cfg, err := files.Client()
	require.NoError(t, err)
	addr := srv.Addr().String()
	rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 2,
		MaxRetries: -1, TLSConfig: secure.ForAddr(cfg, addr)})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// TestTLSPutGet: a client trusting the CA, with a certificate when the port
// asks for one, writes and reads over TLS.
func TestTLSPutGet(t *testing.T) {
	for _, clientAuth := range []bool{false, true} {
		srv, d := tlsServer(t, clientAuth)
		rc := tlsClient(t, srv, d.Client())
		ctx := context.Background()
		require.NoError(t, rc.Set(ctx, "k", "v", 0).Err())
		got, err := rc.Get(ctx, "k").Result()
		require.NoError(t, err)
		require.Equal(t, "v", got)
	}
}

// TestTLSPlaintextClientGetsAnError: a plaintext RESP client is told the
// port wants TLS, then the connection closes; the port keeps serving TLS.
func TestTLSPlaintextClientGetsAnError(t *testing.T) {
	srv, d := tlsServer(t, false)
	nc, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	line, err := bufio.NewReader(nc).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, resp.TLSRequiredReply, line)
	_, err = nc.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)

	require.NoError(t, tlsClient(t, srv, d.Client()).Ping(context.Background()).Err())
}

// TestTLSRefusesUntrustedPeers: a client trusting another CA refuses the
// server; a port requiring client certificates refuses a client without
// one, and one whose certificate another CA signed.
func TestTLSRefusesUntrustedPeers(t *testing.T) {
	srv, d := tlsServer(t, true)
	other, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	ctx := context.Background()

	err = tlsClient(t, srv, other.Client()).Ping(ctx).Err()
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)

	err = tlsClient(t, srv, secure.TLSFiles{CAFile: d.CA}).Ping(ctx).Err()
	require.Error(t, err)
	require.ErrorContains(t, err, "certificate required")

	err = tlsClient(t, srv, secure.TLSFiles{CertFile: other.ClientCert, KeyFile: other.ClientKey, CAFile: d.CA}).Ping(ctx).Err()
	require.Error(t, err)
	require.ErrorContains(t, err, "unknown certificate authority")

	require.NoError(t, tlsClient(t, srv, d.Client()).Ping(ctx).Err())
}

// TestTLSSilentClientDoesNotHoldShutdown: connections that never start
// their handshake neither block the accept loop (others are served
// meanwhile) nor Shutdown, which ends their handshakes at once.
func TestTLSSilentClientDoesNotHoldShutdown(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	cfg, err := d.Node().Server()
	require.NoError(t, err)
	e, _ := testEngine(t, nil)
	_, err = e.CreateShard(DefaultKeyspace, 0)
	require.NoError(t, err)
	scfg := DefaultConfig("127.0.0.1:0", e)
	scfg.Logger, scfg.TLS, scfg.DrainTimeout = testLogger(t), cfg, time.Minute
	srv, err := New(scfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	for range 3 {
		nc, err := net.Dial("tcp", srv.Addr().String())
		require.NoError(t, err)
		defer nc.Close()
	}
	rc := tlsClient(t, srv, d.Client())
	require.NoError(t, rc.Ping(context.Background()).Err())
	require.NoError(t, rc.Close())

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	require.Less(t, time.Since(start), 5*time.Second, "the drain timeout (a minute) was not waited for")
}

// TestTLSShutdownDrainsOverTLS: a TLS connection stopped by Shutdown gets
// the reply of a command it sent before, then the end of the stream.
func TestTLSShutdownDrainsOverTLS(t *testing.T) {
	srv, d := tlsServer(t, false)
	cfg, err := d.Client().Client()
	require.NoError(t, err)
	tc, err := tls.Dial("tcp", srv.Addr().String(), secure.ForAddr(cfg, srv.Addr().String()))
	require.NoError(t, err)
	defer tc.Close()
	br := bufio.NewReader(tc)
	_, err = tc.Write([]byte("PING\r\n"))
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", line)

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	require.NoError(t, tc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = br.ReadByte()
	require.True(t, errors.Is(err, io.EOF), "end of stream, got %v", err)
	require.NoError(t, <-done)
}
