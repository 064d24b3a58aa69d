package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/wire"
)

// parseACL builds an ACL from "name rights..." lines, each user's
// password "<name>-pw" hashed as `vasto acl hash` does.
func parseACL(t *testing.T, users ...string) *acl.ACL {
	t.Helper()
	a, err := acl.Parse(strings.NewReader(aclText(t, users...)), "e2e.acl")
	require.NoError(t, err)
	return a
}

// aclText is the ACL file of parseACL.
func aclText(t *testing.T, users ...string) string {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		name, rest, _ := strings.Cut(u, " ")
		h, err := acl.HashPassword(name + "-pw")
		require.NoError(t, err)
		fmt.Fprintf(&b, "user %s on %s %s\n", name, h, rest)
	}
	return b.String()
}

// storeUsers are the stores' users: the operator's admin (who creates
// keyspaces and reads the topology over NATS, not RESP), the gateway's,
// an application's, and the stores' own for store-to-store commands.
var storeUsers = []string{"gw ks:* +read +write", "app ks:* +read +write", "peer ks:* +internal +read"}

// gatewayCode returns the error code of a gateway reply ("" for none).
func gatewayCode(err error) string {
	if err == nil || errors.Is(err, redis.Nil) {
		return ""
	}
	c, _ := wire.SplitError(err.Error())
	return c
}

// TestACLClientAgainstStores: the Go client with credentials works against
// stores with an ACL; without them, or with a wrong password, it fails at
// once with ErrAuth (not retried as an unavailable store).
func TestACLClientAgainstStores(t *testing.T) {
	c := startCluster(t, 2, func(cfg *devcluster.Config) { cfg.StoreACL = parseACL(t, storeUsers...) })
	admin := newClient(t, c) // admin requests go over NATS
	createKeyspace(t, c, admin, "ks", 2, 2)
	ctx := ctxT(t)

	app := newClientAs(t, c, "app", "app-pw")
	_, err := app.Put(ctx, "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	rec, err := app.Get(ctx, "ks", []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v", string(rec.Value))

	_, err = admin.Get(ctx, "ks", []byte("k"))
	require.ErrorIs(t, err, client.ErrAuth, "no credentials")
	var se *client.StoreError
	require.ErrorAs(t, err, &se)
	require.Equal(t, wire.CodeNoAuth, se.Code)

	wrong := newClientAs(t, c, "app", "not-the-pw")
	start := time.Now()
	_, err = wrong.Put(ctx, "ks", []byte("k"), []byte("w"))
	require.ErrorIs(t, err, client.ErrAuth)
	require.Less(t, time.Since(start), 2*time.Second, "not retried")
	require.NotContains(t, err.Error(), "not-the-pw")

	peer := newClientAs(t, c, "peer", "peer-pw")
	_, err = peer.Put(ctx, "ks", []byte("k"), []byte("w"))
	require.ErrorIs(t, err, client.ErrNoPerm)
	rec, err = app.Get(ctx, "ks", []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v", string(rec.Value), "nothing written")
}

// TestACLGateway: the gateway's own users are checked per command and
// keyspace before anything is forwarded, and it reaches the stores with
// its own credentials.
func TestACLGateway(t *testing.T) {
	c := startCluster(t, 2, func(cfg *devcluster.Config) {
		cfg.Gateway = true
		cfg.StoreACL = parseACL(t, storeUsers...)
		cfg.GatewayACL = parseACL(t, "alice ks:* +read", "bob ks:a* +read +write", "ops ks:* +admin +read +write")
		cfg.GatewayUser, cfg.GatewayPassword = "gw", "gw-pw"
	})
	admin := newClient(t, c)
	createKeyspace(t, c, admin, "a1", 2, 2)
	createKeyspace(t, c, admin, "b", 1, 2)
	ctx := ctxT(t)
	dial := func(user string) *redis.Client {
		o := &redis.Options{Addr: c.GatewayAddr(), Protocol: 2, MaxRetries: -1, PoolSize: 1}
		if user != "" {
			o.Username, o.Password = user, user+"-pw"
		}
		rc := redis.NewClient(o)
		t.Cleanup(func() { _ = rc.Close() })
		return rc
	}

	anon := dial("")
	require.Equal(t, wire.CodeNoAuth, gatewayCode(anon.Set(ctx, "k", "v", 0).Err()))
	require.Equal(t, wire.CodeNoAuth, gatewayCode(anon.Do(ctx, "VUSE", "a1").Err()))
	require.Equal(t, wire.CodeWrongPass, gatewayCode(anon.Do(ctx, "AUTH", "bob", "nope").Err()))

	bob := dial("bob").Conn()
	defer bob.Close()
	require.NoError(t, bob.Do(ctx, "VUSE", "a1").Err())
	require.NoError(t, bob.Set(ctx, "k", "v", 0).Err(), "forwarded with the gateway's store credentials")
	require.Equal(t, "v", bob.Get(ctx, "k").Val())
	require.NoError(t, bob.Do(ctx, "VUSE", "b").Err())
	err := bob.Set(ctx, "k", "v", 0).Err()
	require.EqualError(t, err, "NOPERM User bob has no permissions to run the 'set' command on keyspace 'b' (it needs write)")
	require.Equal(t, wire.CodeNoPerm, gatewayCode(bob.Get(ctx, "k").Err()))
	require.Equal(t, wire.CodeNoPerm, gatewayCode(bob.Do(ctx, "INFO").Err()), "server-wide: needs every keyspace")

	// MULTI: a refused command dooms the transaction.
	require.NoError(t, bob.Do(ctx, "MULTI").Err())
	require.Equal(t, wire.CodeNoPerm, gatewayCode(bob.Do(ctx, "SET", "k", "x").Err()))
	require.Equal(t, "EXECABORT", gatewayCode(bob.Do(ctx, "EXEC").Err()))

	alice := dial("alice").Conn()
	defer alice.Close()
	require.NoError(t, alice.Do(ctx, "VUSE", "a1").Err())
	require.Equal(t, "v", alice.Get(ctx, "k").Val())
	require.Equal(t, wire.CodeNoPerm, gatewayCode(alice.Set(ctx, "k", "changed", 0).Err()))
	require.Equal(t, wire.CodeNoPerm, gatewayCode(alice.Del(ctx, "k").Err()))
	require.Equal(t, wire.CodeNoPerm, gatewayCode(alice.Do(ctx, "GETDEL", "k").Err()), "GETDEL needs read and write")
	require.Equal(t, "v", alice.Get(ctx, "k").Val(), "nothing changed")

	// A reload that drops alice cuts her open connection at once.
	c.SetGatewayACL(parseACL(t, "bob ks:a* +read +write"))
	require.Equal(t, wire.CodeNoAuth, gatewayCode(alice.Get(ctx, "k").Err()))
	require.Equal(t, wire.CodeWrongPass, gatewayCode(alice.Do(ctx, "AUTH", "alice", "alice-pw").Err()))

	// The stores drop the gateway's user: the gateway's commands fail
	// with the stores' NOAUTH (new connections) rather than succeeding.
	c.SetStoreACL(parseACL(t, "app ks:* +read +write"))
	require.NoError(t, bob.Do(ctx, "VUSE", "a1").Err())
	require.Equal(t, wire.CodeNoAuth, gatewayCode(bob.Get(ctx, "k").Err()))
}
