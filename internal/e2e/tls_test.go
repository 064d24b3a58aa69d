package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/server/resp"
)

// startTLSCluster runs a DC of n stores, and a gateway, whose RESP ports
// and store-to-store dials speak mutual TLS with a fresh dev CA's node
// certificate.
func startTLSCluster(t *testing.T, n int, cb func(*devcluster.Config)) (*devcluster.Cluster, secure.DevFiles) {
	t.Helper()
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	c := startCluster(t, n, func(cfg *devcluster.Config) {
		cfg.TLS = d.Node()
		cfg.Gateway = true
		if cb != nil {
			cb(cfg)
		}
	})
	return c, d
}

// TestTLSClusterReBootstrapsAndResizes: over TLS, the client writes and
// reads, a replica past the stream's retention copies its peer (the
// store-to-store dial), and a resize fills the new shards.
func TestTLSClusterReBootstrapsAndResizes(t *testing.T) {
	c, _ := startTLSCluster(t, 2, func(cfg *devcluster.Config) {
		cfg.Stream = bus.StreamConfig{MaxBytes: 64 << 10}
	})
	cl := newClient(t, c)
	reBootstrapPastRetention(t, c, cl)

	fillThroughResize(t, c, cl, "rs", 300)
}

// TestTLSClusterRefusesPlaintext: a client without TLS to the stores (but
// with it to NATS, so it has the topology) cannot use the stores, one
// without TLS to NATS cannot connect at all, and a plaintext RESP client
// of the gateway is told why; a TLS client of the gateway speaking raw
// RESP (as redis-cli --tls) is served.
func TestTLSClusterRefusesPlaintext(t *testing.T) {
	c, d := startTLSCluster(t, 1, nil)
	cl := newClient(t, c)
	createKeyspace(t, c, cl, gatewayKeyspace, 1, 1)

	cfg := client.DefaultConfig(c.NATSURL(), c.DC())
	cfg.Logger, cfg.MaxRetries = testLogger(t), -1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.New(ctx, cfg)
	require.ErrorContains(t, err, "certificate signed by unknown authority", "NATS is TLS only")
	cfg.NATSTLS, err = c.ClientTLS()
	require.NoError(t, err)
	plain, err := client.New(ctx, cfg)
	require.NoError(t, err)
	defer plain.Close()
	// go-redis reports the refusal as EOF: it drops a connection with
	// unread input (the error line) before sending on it.
	_, err = plain.Put(ctx, gatewayKeyspace, []byte("k"), []byte("v"))
	require.ErrorIs(t, err, client.ErrUnavailable)

	nc, err := net.Dial("tcp", c.GatewayAddr())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte("PING\r\n"))
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	line, err := bufio.NewReader(nc).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, resp.TLSRequiredReply, line)

	tcfg, err := d.Client().Client()
	require.NoError(t, err)
	tc, err := tls.Dial("tcp", c.GatewayAddr(), secure.ForAddr(tcfg, c.GatewayAddr()))
	require.NoError(t, err)
	defer tc.Close()
	require.NoError(t, tc.SetDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(tc)
	_, err = fmt.Fprintf(tc, "SET greeting hello\r\n*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n")
	require.NoError(t, err)
	for _, want := range []string{"+OK\r\n", "$5\r\n", "hello\r\n"} {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, want, line)
	}
}
