package peerclient_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// tlsTestServer is testServer with a TLS port requiring client
// certificates of d's CA.
func tlsTestServer(t *testing.T, d secure.DevFiles) *server.Server {
	t.Helper()
	cfg := store.DefaultConfig(t.TempDir())
	cfg.BlockCacheBytes, cfg.WriteBufferBytes = 8<<20, 4<<20
	e, err := store.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	_, err = e.CreateShard(server.DefaultKeyspace, 0)
	require.NoError(t, err)
	scfg := server.DefaultConfig("127.0.0.1:0", e)
	scfg.TLS, err = d.Node().Server()
	require.NoError(t, err)
	srv, err := server.New(scfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	return srv
}

// TestDialTLS: a store dials another over mutual TLS (server name from the
// address), and a dial without TLS, or trusting another CA, fails.
func TestDialTLS(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	srv := tlsTestServer(t, d)
	addr := srv.Addr().String()
	ctx := context.Background()
	node, err := d.Node().Client()
	require.NoError(t, err)

	pc, err := peerclient.Dial(ctx, addr, peerclient.Options{TLS: node})
	require.NoError(t, err)
	require.NoError(t, pc.Use(server.DefaultKeyspace, 0))
	require.NoError(t, pc.Close())

	other, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	wrong, err := other.Node().Client()
	require.NoError(t, err)
	_, err = peerclient.Dial(ctx, addr, peerclient.Options{TLS: wrong})
	require.ErrorContains(t, err, "certificate signed by unknown authority")

	pc, err = peerclient.Dial(ctx, addr, peerclient.Options{})
	if err == nil {
		err = pc.Use(server.DefaultKeyspace, 0)
		_ = pc.Close()
	}
	require.ErrorContains(t, err, "TLS required")
}

// TestDialAuthErrorFailsTheDial: with a user, AUTH is sent first and its
// error reply (here: a wrong password at a store with an ACL) fails the
// dial, naming the user but never the password.
func TestDialAuthErrorFailsTheDial(t *testing.T) {
	srv := testServer(t)
	users, err := acl.Parse(strings.NewReader("user replicator on "+acl.SHA256Hash("right")+" ks:* +internal\n"), "test.acl")
	require.NoError(t, err)
	srv.SetACL(users)
	pc, err := peerclient.Dial(context.Background(), srv.Addr().String(),
		peerclient.Options{User: "replicator", Password: secure.NewSecret("right")})
	require.NoError(t, err, "the right password passes")
	require.NoError(t, pc.Close())
	_, err = peerclient.Dial(context.Background(), srv.Addr().String(),
		peerclient.Options{User: "replicator", Password: secure.NewSecret("hunter2")})
	require.ErrorIs(t, err, peerclient.ErrAuth)
	require.ErrorContains(t, err, "replicator")
	require.NotContains(t, err.Error(), "hunter2")
}
