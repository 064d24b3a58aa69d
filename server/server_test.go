package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

func TestServerBasicCommands(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()

	require.Equal(t, "PONG", rc.Ping(ctx).Val())
	require.NoError(t, rc.Set(ctx, "k", "v", 0).Err())
	require.Equal(t, "v", rc.Get(ctx, "k").Val())
	require.ErrorIs(t, rc.Get(ctx, "missing").Err(), redis.Nil)

	require.NoError(t, rc.MSet(ctx, "a", "1", "b", "2").Err())
	vals, err := rc.MGet(ctx, "a", "nope", "b").Result()
	require.NoError(t, err)
	require.Equal(t, []any{"1", nil, "2"}, vals)
	require.Equal(t, int64(2), rc.Exists(ctx, "a", "b", "nope").Val())

	require.Equal(t, int64(2), rc.Del(ctx, "a", "b", "nope").Val(), "DEL counts keys that existed")
	require.Equal(t, int64(0), rc.Exists(ctx, "a").Val())

	require.NoError(t, rc.Set(ctx, "ttl", "x", 10*time.Second).Err())
	pttl := rc.PTTL(ctx, "ttl").Val()
	require.Greater(t, pttl, 9*time.Second)
	require.LessOrEqual(t, pttl, 10*time.Second)
	require.Equal(t, time.Duration(-1), rc.PTTL(ctx, "k").Val())
	require.Equal(t, time.Duration(-2), rc.PTTL(ctx, "none").Val())
}

// SET NX and XX take no value (redis-py and go-redis send them bare) and
// are decided by the committer, so a pipeline sees its own earlier writes.
func TestServerSetNXXX(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()

	require.False(t, rc.SetXX(ctx, "k", "x", 0).Val(), "XX on a missing key writes nothing")
	require.ErrorIs(t, rc.Get(ctx, "k").Err(), redis.Nil)
	require.True(t, rc.SetNX(ctx, "k", "1", 0).Val())
	require.False(t, rc.SetNX(ctx, "k", "2", 0).Val(), "NX on a live key writes nothing")
	require.Equal(t, "1", rc.Get(ctx, "k").Val())
	require.True(t, rc.SetXX(ctx, "k", "3", time.Minute).Val())
	require.Equal(t, "3", rc.Get(ctx, "k").Val())
	require.Greater(t, rc.PTTL(ctx, "k").Val(), 50*time.Second)

	// The raw replies: +OK, or a null bulk when the condition fails; the
	// flags combine with EX/PX in any order.
	require.Equal(t, "OK", rc.Do(ctx, "SET", "n", "v", "nx", "PX", "60000").Val())
	require.ErrorIs(t, rc.Do(ctx, "SET", "n", "v", "EX", "60", "NX").Err(), redis.Nil)

	// Within one pipeline the second NX sees the first.
	pipe := rc.Pipeline()
	a := pipe.SetNX(ctx, "p", "a", 0)
	b := pipe.SetNX(ctx, "p", "b", 0)
	_, _ = pipe.Exec(ctx)
	require.True(t, a.Val())
	require.False(t, b.Val())
	require.Equal(t, "a", rc.Get(ctx, "p").Val())

	// A deleted key is absent for NX.
	require.NoError(t, rc.Del(ctx, "p").Err())
	require.True(t, rc.SetNX(ctx, "p", "c", 0).Val())
}

func TestServerVersionedCommands(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()

	res, err := rc.Do(ctx, "VSET", "k", "new", "EVENTTIME", baseTime-100).Slice()
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), baseTime - 100, "dc1", "store1", int64(1)}, res)

	res, err = rc.Do(ctx, "VSET", "k", "old", "EVENTTIME", baseTime-200).Slice()
	require.NoError(t, err)
	require.Equal(t, []any{int64(0), baseTime - 100, "dc1", "store1", int64(0)}, res, "an older write is not applied and reports the winner")

	got, err := rc.Do(ctx, "VGET", "k").Slice()
	require.NoError(t, err)
	require.Equal(t, []any{"new", baseTime - 100, "dc1", "store1", int64(0)}, got)

	res, err = rc.Do(ctx, "VDEL", "k", "EVENTTIME", baseTime-50).Slice()
	require.NoError(t, err)
	require.Equal(t, int64(1), res[0])
	require.ErrorIs(t, rc.Do(ctx, "VGET", "k").Err(), redis.Nil)

	err = rc.Do(ctx, "VSET", "k", "v", "EVENTTIME", baseTime+int64(time.Minute)).Err()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "BADTIME "), err.Error())

	log, err := rc.Do(ctx, "VLOG", 1).Slice()
	require.NoError(t, err)
	require.Len(t, log, 2)
	first := log[0].([]any)
	require.Equal(t, []any{int64(1), "k", "new", baseTime - 100, "dc1", "store1", int64(0)}, first)
	second := log[1].([]any)
	require.Nil(t, second[2], "a delete has a null value in the log")

	info, err := rc.Do(ctx, "VLOGINFO").Slice()
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), int64(2)}, info)
}

func TestServerSelectAndScan(t *testing.T) {
	srv, e := testServer(t, nil)
	_, err := e.CreateShard("users", 2)
	require.NoError(t, err)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true, PoolSize: 1})
	defer rc.Close()
	ctx := context.Background()

	err = rc.Do(ctx, "VUSE", "nope", 0).Err()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "NOSHARD "), err.Error())
	err = rc.Do(ctx, "VUSE", "bad.name*", 0).Err()
	require.Error(t, err)

	require.NoError(t, rc.Do(ctx, "VUSE", "users", 2).Err())
	for i := 0; i < 25; i++ {
		require.NoError(t, rc.Set(ctx, fmt.Sprintf("user:%02d", i), i, 0).Err())
	}
	require.NoError(t, rc.Set(ctx, "other", "x", 0).Err())

	var all []string
	cursor := uint64(0)
	for {
		keys, next, err := rc.Scan(ctx, cursor, "user:*", 7).Result()
		require.NoError(t, err)
		all = append(all, keys...)
		if next == 0 {
			break
		}
		cursor = next
	}
	require.Len(t, all, 25)
	require.Equal(t, "user:00", all[0])
	require.Equal(t, "user:24", all[24])

	res, err := rc.Do(ctx, "VSCAN", "START", "user:10", "END", "user:13", "LIMIT", 10).Slice()
	require.NoError(t, err)
	require.Nil(t, res[0])
	require.Equal(t, []any{"user:10", "10", "user:11", "11", "user:12", "12"}, res[1])

	res, err = rc.Do(ctx, "VSCAN", "PREFIX", "user:", "LIMIT", 2, "WITHVERSIONS").Slice()
	require.NoError(t, err)
	require.Equal(t, "user:02", res[0])
	require.Len(t, res[1], 10)

	// The default keyspace does not see those keys.
	require.NoError(t, rc.Do(ctx, "VUSE", DefaultKeyspace).Err())
	require.ErrorIs(t, rc.Get(ctx, "other").Err(), redis.Nil)
}

// TestServerPipelineIsOrdered sends many commands in one pipeline, writes
// and reads of the same keys interleaved, and checks every reply.
func TestServerPipelineIsOrdered(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	pipe := rc.Pipeline()
	var gets []*redis.StringCmd
	for i := 0; i < 500; i++ {
		key := fmt.Sprintf("k%d", i%50)
		pipe.Set(ctx, key, fmt.Sprintf("v%d", i), 0)
		gets = append(gets, pipe.Get(ctx, key))
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	for i, g := range gets {
		require.Equal(t, fmt.Sprintf("v%d", i), g.Val(), "a pipeline reads its own writes in order")
	}
}

func TestServerConcurrentClients(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2, DisableIdentity: true, PoolSize: 16})
	defer rc.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				key := fmt.Sprintf("g%d-%d", g, i)
				if err := rc.Set(ctx, key, key, 0).Err(); err != nil {
					t.Error(err)
					return
				}
				if v := rc.Get(ctx, key).Val(); v != key {
					t.Errorf("got %q want %q", v, key)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// rawConn sends raw bytes and reads RESP replies.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, srv *Server) *rawConn {
	nc, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawConn) send(s string) {
	_, err := r.nc.Write([]byte(s))
	require.NoError(r.t, err)
}

// line reads one reply line (enough for simple replies, errors, integers
// and bulk headers).
func (r *rawConn) line() string {
	require.NoError(r.t, r.nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	l, err := r.br.ReadString('\n')
	require.NoError(r.t, err)
	return strings.TrimRight(l, "\r\n")
}

func (r *rawConn) closed() bool {
	require.NoError(r.t, r.nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := r.br.ReadByte()
	return err == io.EOF
}

func TestServerBadInput(t *testing.T) {
	srv, e := testServer(t, nil)
	c := dialRaw(t, srv)

	c.send("FOO bar\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-ERR unknown command 'FOO'"))

	c.send("*1\r\n$3\r\nGET\r\n")
	require.Equal(t, "-ERR wrong number of arguments for 'get' command", c.line())

	// An oversized key is refused; the connection survives.
	big := strings.Repeat("k", store.MaxKeySize+1)
	c.send(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", len(big), big))
	require.True(t, strings.HasPrefix(c.line(), "-TOOLARGE "))

	// An oversized value is skipped by the parser without buffering it.
	c.send(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", store.MaxValueSize+1))
	c.send(strings.Repeat("x", store.MaxValueSize+1) + "\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-TOOLARGE "))

	c.send("SET k v EX -5\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-BADTIME "))
	c.send("SET k v NX XX\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-ERR "))
	c.send("VSET k v NX\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-ERR "))
	c.send("VSET k v EVENTTIME 0\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-BADTIME "))
	c.send("VSCAN LIMIT 0\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-ERR "))
	c.send("SCAN 12345\r\n")
	require.True(t, strings.HasPrefix(c.line(), "-ERR "))

	// Nothing above changed anything.
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	_, last := sh.LogBounds()
	require.Zero(t, last)

	c.send("PING\r\n")
	require.Equal(t, "+PONG", c.line())

	// A frame claiming 4 GiB is a protocol error: reply, then close.
	// The reply names the length sent and the cap.
	c.send("*2\r\n$3\r\nGET\r\n$4294967296\r\n")
	require.Equal(t, "-ERR Protocol error: invalid bulk length: 4294967296 bytes, hard cap is 536870912", c.line())
	require.True(t, c.closed())
}

func TestServerShutdownIsIdempotent(t *testing.T) {
	srv, _ := testServer(t, nil)
	c := dialRaw(t, srv)
	c.send("PING\r\n")
	require.Equal(t, "+PONG", c.line())
	ctx := context.Background()
	require.NoError(t, srv.Shutdown(ctx))
	require.NoError(t, srv.Shutdown(ctx))
	require.True(t, c.closed())
	_, err := net.Dial("tcp", srv.Addr().String())
	require.Error(t, err)
}

// TestServerProtocolErrorQuotingConnectionReset: a malformed frame is
// answered with a protocol error even when the error quotes text that looks
// like a network error; only real end-of-stream and network errors close a
// connection silently.
func TestServerProtocolErrorQuotingConnectionReset(t *testing.T) {
	srv, _ := testServer(t, nil)
	c := dialRaw(t, srv)
	c.send("*1\r\n$connection reset\r\n")
	require.Equal(t, `-ERR Protocol error: invalid bulk length "$connection reset\r\n"`, c.line())
	require.True(t, c.closed())
}
