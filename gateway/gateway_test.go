package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig("127.0.0.1:0", "nats://127.0.0.1:4222", "dc1")
	require.NoError(t, ok.Validate())
	for name, mod := range map[string]func(*Config){
		"listen":   func(c *Config) { c.Listen = "" },
		"nats":     func(c *Config) { c.NATSURL = "" },
		"dc":       func(c *Config) { c.DC = "d c" },
		"keyspace": func(c *Config) { c.Keyspace = "a/b" },
		"logger":   func(c *Config) { c.Logger = nil },
		"conns":    func(c *Config) { c.MaxConns = 0 },
		"timeout":  func(c *Config) { c.RequestTimeout = 0 },
		"drain":    func(c *Config) { c.DrainTimeout = -1 },
		"keys":     func(c *Config) { c.MaxKeys = 0 },
		"limits":   func(c *Config) { c.Limits.MaxArgs = -1 },
		"client":   func(c *Config) { c.Client.PoolSize = -1 },
	} {
		cfg := ok
		mod(&cfg)
		require.ErrorIs(t, cfg.Validate(), ErrInvalidConfig, name)
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, name)
	}
}

func TestShutdownBeforeStartIsIdempotent(t *testing.T) {
	g, err := New(DefaultConfig("127.0.0.1:0", "nats://127.0.0.1:4222", "dc1"))
	require.NoError(t, err)
	require.Nil(t, g.Addr())
	require.NoError(t, g.Shutdown(context.Background()))
	require.NoError(t, g.Shutdown(context.Background()))
}

func TestReplyErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&client.StoreError{Code: "MOVED", Message: "key moved", Store: "s1"}, "MOVED key moved"},
		{fmt.Errorf("%w: 9 attempts: %w", client.ErrUnavailable, errors.New("dial")), "TRYAGAIN unavailable: 9 attempts: dial"},
		{fmt.Errorf("%w: %q", client.ErrUnknownKeyspace, "x"), `ERR unknown keyspace: "x"`},
		{fmt.Errorf("%w: keyspace", client.ErrBadName), "BADNAME bad name: keyspace"},
		{fmt.Errorf("%w: key", client.ErrTooLarge), "TOOLARGE too large: key"},
		{fmt.Errorf("%w: 9 bytes", resp.ErrTooLarge), "TOOLARGE command too large: 9 bytes"},
		{errShuttingDown, "CLOSED gateway shutting down"},
		{redisError("unknown command 'x'"), "ERR unknown command 'x'"},
		{fmt.Errorf("%w: invalid cursor", errSyntax), "ERR syntax error: invalid cursor"},
	} {
		require.Equal(t, c.want, replyError(c.err))
	}
}

func TestUnsupportedCommands(t *testing.T) {
	require.Equal(t, "'hset' is a hash command: Vasto stores strings (GET, SET, MGET, ...) only",
		unsupported("HSET", [][]byte{[]byte("hset"), []byte("h")}).Error())
	require.Equal(t, "unknown command 'foo', with args beginning with: 'a' 'b' ",
		unsupported("FOO", [][]byte{[]byte("foo"), []byte("a"), []byte("b")}).Error())
	for name := range commands {
		_, clash := notString[name]
		require.False(t, clash, name)
	}
}

// TestEveryCommandHasAClass fails when a command is added to the gateway
// without a class in acl.GatewayCommands (it would be refused to every
// user of an ACL), or when the table names a command the gateway does not
// have.
func TestEveryCommandHasAClass(t *testing.T) {
	for name := range commands {
		_, ok := acl.GatewayCommands[name]
		require.True(t, ok, "command %s has no class in acl.GatewayCommands", name)
	}
	for name := range acl.GatewayCommands {
		_, ok := commands[name]
		require.True(t, ok, "acl.GatewayCommands classes %s, which the gateway does not have", name)
	}
}

func TestReplyErrorCodesOfTheACL(t *testing.T) {
	require.Equal(t, "NOAUTH Authentication required.", replyError(acl.ErrNoAuth))
	require.Equal(t, "WRONGPASS invalid username-password pair or user is disabled.", replyError(acl.ErrWrongPass))
	require.Equal(t, "NOPERM User u has no permissions to run the 'set' command on keyspace 'b' (it needs write)",
		replyError(&acl.PermError{User: "u", Command: "SET", Keyspace: "b", Need: acl.Write}))
}
