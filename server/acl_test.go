package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// TestEveryCommandHasAClass fails when a command is added to the server
// without a class in acl.StoreCommands (it would be refused to every user
// of an ACL), or when the table names a command the server does not have.
func TestEveryCommandHasAClass(t *testing.T) {
	for name := range commands {
		if _, ok := acl.StoreCommands[name]; !ok {
			t.Errorf("command %s has no class in acl.StoreCommands", name)
		}
	}
	for name := range acl.StoreCommands {
		if _, ok := commands[name]; !ok {
			t.Errorf("acl.StoreCommands classes %s, which the server does not have", name)
		}
	}
}

// testACL is an ACL of test users, each with password "<name>-pw":
// rw (read and write everywhere), ro (read only), a (read and write on
// keyspaces a*), peer (internal, the stores' own user), ops (admin), off
// (disabled) and default (AUTH password).
func testACL(t testing.TB, skip ...string) *acl.ACL {
	t.Helper()
	lines := map[string]string{
		"rw":      "on ks:* +read +write",
		"ro":      "on ks:* +read",
		"a":       "on ks:a* +read +write",
		"peer":    "on ks:* +internal",
		"ops":     "on ks:* +admin",
		"off":     "off ks:* +all",
		"default": "on ks:* +read",
	}
	var b strings.Builder
	for name, rest := range lines {
		if !strings.Contains(strings.Join(skip, " "), name) {
			fmt.Fprintf(&b, "user %s %s %s\n", name, acl.SHA256Hash(name+"-pw"), rest)
		}
	}
	a, err := acl.Parse(strings.NewReader(b.String()), "test.acl")
	require.NoError(t, err)
	return a
}

// aclServer starts a server with the test ACL and keyspaces default, a1
// and b, logging into the returned buffer as well.
func aclServer(t *testing.T) (*Server, *store.Engine, *storetest.Buffer) {
	t.Helper()
	logs := &storetest.Buffer{}
	srv, e := testServer(t, func(c *Config) {
		c.ACL = testACL(t)
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	})
	for _, ks := range []string{"a1", "b"} {
		_, err := e.CreateShard(ks, 0)
		require.NoError(t, err)
	}
	return srv, e, logs
}

// userClient is a go-redis client of srv that authenticates as user (none
// when empty) with HELLO 2 AUTH, as the Vasto client does.
func userClient(t *testing.T, srv *Server, user, pass string) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true,
		PoolSize: 1, MaxRetries: -1, Username: user, Password: pass})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// code returns the error code of a reply's error ("" for none).
func code(err error) string {
	if err == nil || errors.Is(err, redis.Nil) {
		return ""
	}
	c, _ := wire.SplitError(err.Error())
	return c
}

// stored reports whether key has a value in shard 0 of keyspace.
func stored(t *testing.T, e *store.Engine, keyspace, key string) bool {
	t.Helper()
	sh, err := e.Shard(keyspace, 0)
	require.NoError(t, err)
	_, err = sh.Get([]byte(key))
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestACLNoAuthWritesNothing(t *testing.T) {
	srv, e, _ := aclServer(t)
	rc := userClient(t, srv, "", "")
	ctx := context.Background()
	for _, args := range [][]any{{"SET", "k", "v"}, {"VSET", "k", "v", "EVENTTIME", "1"}, {"DEL", "k"},
		{"GET", "k"}, {"PING"}, {"VDUMP"}, {"NOSUCH"}, {"INFO"}, {"HELLO", "2"}} {
		err := rc.Do(ctx, args...).Err()
		require.Equal(t, wire.CodeNoAuth, code(err), "%v: %v", args, err)
	}
	require.EqualError(t, rc.Do(ctx, "GET", "k").Err(), "NOAUTH Authentication required.")
	require.False(t, stored(t, e, DefaultKeyspace, "k"))
	require.Equal(t, "OK", rc.Do(ctx, "QUIT").Val(), "QUIT needs no authentication")
}

func TestACLWrongPassword(t *testing.T) {
	srv, _, logs := aclServer(t)
	ctx := context.Background()
	rc := userClient(t, srv, "", "")
	for _, args := range [][]any{{"AUTH", "rw", "not-the-pw"}, {"AUTH", "nosuchuser", "x"}, {"AUTH", "off", "off-pw"},
		{"AUTH", "wrong-default-pw"}, {"HELLO", "2", "AUTH", "rw", "secret-guess"}} {
		err := rc.Do(ctx, args...).Err()
		require.EqualError(t, err, "WRONGPASS invalid username-password pair or user is disabled.", "%v", args)
	}
	require.Equal(t, uint64(5), srv.AuthFailures())
	require.Equal(t, wire.CodeNoAuth, code(rc.Get(ctx, "k").Err()), "still not authenticated")
	// The client's own dial fails the same way.
	bad := userClient(t, srv, "rw", "not-the-pw")
	require.Equal(t, wire.CodeWrongPass, code(bad.Get(ctx, "k").Err()))

	out := logs.String()
	require.Contains(t, out, "user=rw")
	require.Contains(t, out, `user="(unknown)"`)
	for _, secret := range []string{"not-the-pw", "nosuchuser", "off-pw", "wrong-default-pw", "secret-guess"} {
		require.NotContains(t, out, secret, "a password (or what may be one) reached the log")
	}
	require.Equal(t, "default", mustAuth(t, rc, "default-pw"))
}

// mustAuth authenticates rc's connection with AUTH and returns the user.
func mustAuth(t *testing.T, rc *redis.Client, args ...any) string {
	t.Helper()
	require.Equal(t, "OK", rc.Do(context.Background(), append([]any{"AUTH"}, args...)...).Val())
	if len(args) == 1 {
		return acl.DefaultUser
	}
	return args[0].(string)
}

func TestACLReadOnlyUser(t *testing.T) {
	srv, e, _ := aclServer(t)
	ctx := context.Background()
	rw := userClient(t, srv, "rw", "rw-pw")
	require.NoError(t, rw.Set(ctx, "k", "v", 0).Err())

	ro := userClient(t, srv, "ro", "ro-pw")
	require.Equal(t, "v", ro.Get(ctx, "k").Val())
	err := ro.Set(ctx, "k", "changed", 0).Err()
	require.EqualError(t, err, "NOPERM User ro has no permissions to run the 'set' command on keyspace 'default' (it needs write)")
	require.Equal(t, wire.CodeNoPerm, code(ro.Del(ctx, "k").Err()))
	require.Equal(t, wire.CodeNoPerm, code(ro.Set(ctx, "new", "v", 0).Err()))
	require.Equal(t, "v", ro.Get(ctx, "k").Val(), "nothing changed")
	require.False(t, stored(t, e, DefaultKeyspace, "new"))

	// In a pipeline, the refused write keeps its place among the replies.
	pipe := ro.Pipeline()
	g1 := pipe.Get(ctx, "k")
	s := pipe.Set(ctx, "k", "x", 0)
	g2 := pipe.Get(ctx, "k")
	_, _ = pipe.Exec(ctx)
	require.Equal(t, "v", g1.Val())
	require.Equal(t, wire.CodeNoPerm, code(s.Err()))
	require.Equal(t, "v", g2.Val())
}

func TestACLKeyspacePattern(t *testing.T) {
	srv, e, _ := aclServer(t)
	ctx := context.Background()
	rc := userClient(t, srv, "a", "a-pw")
	conn := rc.Conn()
	defer conn.Close()
	require.NoError(t, conn.Do(ctx, "VUSE", "a1").Err())
	require.NoError(t, conn.Set(ctx, "k", "v", 0).Err())
	require.Equal(t, "v", conn.Get(ctx, "k").Val())
	require.NoError(t, conn.Do(ctx, "VUSE", "b").Err(), "selecting needs no right")
	err := conn.Set(ctx, "k", "v", 0).Err()
	require.EqualError(t, err, "NOPERM User a has no permissions to run the 'set' command on keyspace 'b' (it needs write)")
	require.Equal(t, wire.CodeNoPerm, code(conn.Get(ctx, "k").Err()))
	require.False(t, stored(t, e, "b", "k"))
	require.True(t, stored(t, e, "a1", "k"))
	// Server-wide commands need the right on every keyspace.
	require.Equal(t, wire.CodeNoPerm, code(conn.Do(ctx, "INFO").Err()))
}

func TestACLInternalAndAdminCommands(t *testing.T) {
	srv, _, _ := aclServer(t)
	ctx := context.Background()
	rw := userClient(t, srv, "rw", "rw-pw")
	for _, args := range [][]any{{"VDUMP"}, {"VFENCE", "1"}, {"VLOG", "1"}, {"VLOGINFO"}, {"VFAULT", "STATUS"},
		{"VDIGEST"}, {"INFO"}, {"VSHARDS"}} {
		require.Equal(t, wire.CodeNoPerm, code(rw.Do(ctx, args...).Err()), "%v", args)
	}
	peer := userClient(t, srv, "peer", "peer-pw")
	res, err := peer.Do(ctx, "VDUMP").Slice()
	require.NoError(t, err)
	require.Len(t, res, 2)
	require.NoError(t, peer.Do(ctx, "VLOGINFO").Err())
	require.Equal(t, wire.CodeNoPerm, code(peer.Get(ctx, "k").Err()), "internal is not read")

	ops := userClient(t, srv, "ops", "ops-pw")
	require.NoError(t, ops.Do(ctx, "INFO").Err())
	require.NoError(t, ops.Do(ctx, "VDIGEST").Err())
	require.Equal(t, wire.CodeNoFaults, code(ops.Do(ctx, "VFAULT", "STATUS").Err()), "admin passes the ACL; faults are off")
	require.Equal(t, wire.CodeNoPerm, code(ops.Do(ctx, "VDUMP").Err()))
}

func TestACLReloadRevokesOpenConnection(t *testing.T) {
	srv, _, _ := aclServer(t)
	ctx := context.Background()
	rc := userClient(t, srv, "", "")
	conn := rc.Conn()
	defer conn.Close()
	require.Equal(t, "OK", conn.Do(ctx, "AUTH", "rw", "rw-pw").Val())
	require.NoError(t, conn.Set(ctx, "k", "v", 0).Err())

	// rw becomes read-only: the next write is refused on the same
	// connection.
	a, err := acl.Parse(strings.NewReader("user rw on "+acl.SHA256Hash("rw-pw")+" ks:* +read\n"), "reload.acl")
	require.NoError(t, err)
	srv.SetACL(a)
	require.Equal(t, wire.CodeNoPerm, code(conn.Set(ctx, "k", "w", 0).Err()))
	require.Equal(t, "v", conn.Get(ctx, "k").Val())

	// rw is deleted: the connection is logged out at once.
	srv.SetACL(testACL(t, "rw"))
	require.Equal(t, wire.CodeNoAuth, code(conn.Get(ctx, "k").Err()))
	require.Equal(t, wire.CodeWrongPass, code(conn.Do(ctx, "AUTH", "rw", "rw-pw").Err()))
	require.Equal(t, "OK", conn.Do(ctx, "AUTH", "ro", "ro-pw").Val())
	require.Equal(t, "v", conn.Get(ctx, "k").Val())

	// No ACL: no authentication.
	srv.SetACL(nil)
	anon := userClient(t, srv, "", "")
	require.Equal(t, "v", anon.Get(ctx, "k").Val())
}

func TestACLAuthInPipelineAppliesToWhatFollows(t *testing.T) {
	srv, e, _ := aclServer(t)
	ctx := context.Background()
	rc := userClient(t, srv, "", "")
	pipe := rc.Pipeline()
	before := pipe.Set(ctx, "before", "v", 0)
	auth := pipe.Do(ctx, "AUTH", "rw", "rw-pw")
	after := pipe.Set(ctx, "after", "v", 0)
	_, _ = pipe.Exec(ctx)
	require.Equal(t, wire.CodeNoAuth, code(before.Err()))
	require.NoError(t, auth.Err())
	require.NoError(t, after.Err())
	require.False(t, stored(t, e, DefaultKeyspace, "before"))
	require.True(t, stored(t, e, DefaultKeyspace, "after"))
}

func TestNoACLAcceptsCredentials(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := userClient(t, srv, "anyone", "anything")
	require.NoError(t, rc.Set(context.Background(), "k", "v", 0).Err())
	require.Equal(t, "OK", rc.Do(context.Background(), "AUTH", "x").Val())
}
