package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/wire"
)

// secureUsers are the RESP users of a secured DC's stores: the gateway's,
// an application's, a read-only one, and the stores' own (+internal) for
// re-bootstraps, fills and fences.
var secureUsers = []string{"gw ks:* +read +write", "app ks:* +read +write", "reader ks:* +read", "peer ks:* +internal"}

// secureConfig turns every security feature of a dev cluster on: mutual
// TLS with d's node certificate on NATS (client and leafnode ports), the
// RESP ports and every dial; one NATS user per role and store; ACLs on
// the stores (which authenticate to each other as "peer") and the gateway.
func secureConfig(t *testing.T, d secure.DevFiles) func(*devcluster.Config) {
	return func(cfg *devcluster.Config) {
		cfg.TLS = d.Node()
		cfg.TLS.ClientAuth = true
		cfg.NATSAuth = true
		cfg.StoreACL = parseACL(t, secureUsers...)
		cfg.PeerUser, cfg.PeerPassword = "peer", "peer-pw"
		cfg.Gateway = true
		cfg.GatewayACL = parseACL(t, "alice ks:* +read +write")
		cfg.GatewayUser, cfg.GatewayPassword = "gw", "gw-pw"
	}
}

// TestSecureClusterEverythingOn: with TLS, NATS users and ACLs all on, a
// DC replicates, re-bootstraps a replica past the stream's retention (a
// store-to-store copy over mutual TLS with the peer user) and resizes;
// the gateway serves its own users. Each credential missing or wrong is
// refused where it is checked: NATS (no creds, wrong CA), the admin
// service (client role), the stores (no RESP user, read-only user).
func TestSecureClusterEverythingOn(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	c := startCluster(t, 2, func(cfg *devcluster.Config) {
		secureConfig(t, d)(cfg)
		cfg.Stream = bus.StreamConfig{MaxBytes: 64 << 10}
	})
	cl := newClientAs(t, c, "app", "app-pw") // NATS admin role, RESP user app
	reBootstrapPastRetention(t, c, cl)

	fillThroughResize(t, c, cl, "rs", 200)
	ctx := ctxT(t)

	// The gateway: TLS for its clients, its own ACL, the stores' gw user.
	tcfg, err := d.Client().Client()
	require.NoError(t, err)
	rc := redis.NewClient(&redis.Options{Addr: c.GatewayAddr(), Protocol: 2, MaxRetries: -1, PoolSize: 1,
		Username: "alice", Password: "alice-pw", TLSConfig: secure.ForAddr(tcfg, c.GatewayAddr())})
	t.Cleanup(func() { _ = rc.Close() })
	conn := rc.Conn()
	defer conn.Close()
	require.NoError(t, conn.Do(ctx, "VUSE", "rs").Err())
	require.Equal(t, valN(7), conn.Get(ctx, keyN(7)).Val())
	require.NoError(t, conn.Set(ctx, "via-gateway", "v", 0).Err())

	// A client role reads the topology and the stores, but the admin
	// service refuses it.
	app := newClientRole(t, c, bus.RoleClient, "app", "app-pw")
	got, err := app.Get(ctx, "rs", []byte("via-gateway"))
	require.NoError(t, err)
	require.Equal(t, "v", string(got.Value))
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = app.CreateKeyspace(actx, "nope", 1, 1)
	require.ErrorIs(t, err, bus.ErrPermission)

	// A read-only RESP user reads and is refused a write.
	reader := newClientRole(t, c, bus.RoleClient, "reader", "reader-pw")
	_, err = reader.Get(ctx, "rs", []byte(keyN(3)))
	require.NoError(t, err)
	_, err = reader.Put(ctx, "rs", []byte(keyN(3)), []byte("overwritten"))
	require.ErrorIs(t, err, client.ErrNoPerm)
	var se *client.StoreError
	require.ErrorAs(t, err, &se)
	require.Equal(t, wire.CodeNoPerm, se.Code)

	// NATS refuses a client without credentials, and one that trusts
	// another CA.
	refused := func(mod func(*client.Config)) error {
		cfg := client.DefaultConfig(c.NATSURL(), c.DC())
		cfg.Logger = testLogger(t)
		var err error
		cfg.TLS, err = c.ClientTLS()
		require.NoError(t, err)
		cfg.NATSTLS, cfg.NATSCreds = cfg.TLS, c.Creds(bus.RoleClient, "")
		mod(&cfg)
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		cl, err := client.New(nctx, cfg)
		if err == nil {
			cl.Close()
		}
		return err
	}
	require.NoError(t, refused(func(*client.Config) {}), "the control: client role creds and the right CA")
	err = refused(func(cfg *client.Config) { cfg.NATSCreds = "" })
	require.ErrorContains(t, err, "uthorization")
	other, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	err = refused(func(cfg *client.Config) {
		var err error
		cfg.NATSTLS, err = other.Client().Client()
		require.NoError(t, err)
	})
	require.ErrorContains(t, err, "certificate signed by unknown authority")
}

// TestSecureTwoDCsConverge: two DCs with everything secured, linked by a
// mutual-TLS leafnode link on which dc2 authenticates as dc1's leaf user,
// take writes on both sides and converge.
func TestSecureTwoDCsConverge(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	cs := startDCsWith(t, 2, []string{"dc1", "dc2"}, func(cfg *devcluster.Config) {
		secureConfig(t, d)(cfg)
		cfg.Gateway = false
	})
	c1, c2 := newClientAs(t, cs[0], "app", "app-pw"), newClientAs(t, cs[1], "app", "app-pw")
	createKeyspace(t, cs[0], c1, "geo", 2, 2)
	createKeyspace(t, cs[1], c2, "geo", 1, 2)

	wctx := ctxT(t)
	want := map[string]string{}
	for i := range 50 {
		k := fmt.Sprintf("k%02d", i)
		_, err := c1.Put(wctx, "geo", []byte(k), []byte("dc1"))
		require.NoError(t, err)
		want[k] = "dc1"
		if i%2 == 0 {
			_, err := c2.Put(wctx, "geo", []byte(k), []byte("dc2"))
			require.NoError(t, err)
			want[k] = "dc2"
		}
	}
	for _, cl := range []*client.Client{c1, c2} {
		require.Eventually(t, func() bool {
			for k, v := range want {
				got, err := cl.Get(wctx, "geo", []byte(k))
				if err != nil || string(got.Value) != v {
					return false
				}
			}
			return true
		}, 30*time.Second, 100*time.Millisecond, "every DC converges on the latest write of every key")
	}
}

// TestSecureChildStoreKilled: a store running as a process of its own, with
// its own TLS files, NATS seed, ACL and peer user, takes a share of a
// keyspace in a secured DC, is killed with SIGKILL while writes go on and
// restarted: it catches up over the secured change log (or copies a peer
// over mutual TLS with its peer user), and then alone serves every
// acknowledged write.
func TestSecureChildStoreKilled(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	c := startCluster(t, 2, func(cfg *devcluster.Config) {
		secureConfig(t, d)(cfg)
		cfg.Gateway = false
		cfg.SpareStores = []string{"child"}
	})
	aclFile := filepath.Join(t.TempDir(), "stores.acl")
	require.NoError(t, os.WriteFile(aclFile, []byte(aclText(t, secureUsers...)), 0o600))
	node := d.Node()
	cl := newClientAs(t, c, "app", "app-pw")
	child := runChildStore(t, cl, &childStore{t: t, dir: t.TempDir(), addr: freeAddr(t), id: "child", nats: c.NATSURL(), dc: c.DC(),
		env: []string{
			childTLSEnv + "=" + node.CertFile + "," + node.KeyFile + "," + node.CAFile,
			childCredsEnv + "=" + c.Creds(bus.RoleStore, "child"),
			childACLEnv + "=" + aclFile,
			childPeerEnv + "=peer:peer-pw",
		}})
	createKeyspace(t, c, cl, "k9", 2, 3)
	ctx := ctxT(t)
	put := func(from, to int) {
		for i := from; i < to; i++ {
			_, err := cl.Put(ctx, "k9", []byte(keyN(i)), []byte(valN(i)))
			require.NoError(t, err)
		}
	}
	put(0, 200)
	child.kill()
	put(200, 400)
	child.start()
	waitServing(t, cl, "k9")
	put(400, 500)

	// Only the child left: every acknowledged write must be there.
	require.NoError(t, c.StopStore(ctx, 0))
	require.NoError(t, c.StopStore(ctx, 1))
	require.Eventually(t, func() bool {
		for i := range 500 {
			got, err := cl.Get(ctx, "k9", []byte(keyN(i)))
			if err != nil || string(got.Value) != valN(i) {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the restarted child serves every acknowledged write alone")
}
