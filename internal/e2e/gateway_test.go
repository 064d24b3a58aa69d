package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/topology"
)

// gatewayKeyspace is the gateway's default keyspace, created by
// startGateway.
const gatewayKeyspace = "default"

// startGateway runs a DC of three stores with its gateway, the default
// keyspace (shards x 2 replicas) served, and returns the cluster, a Go
// client and a go-redis client of the gateway.
func startGateway(t *testing.T, shards int) (*devcluster.Cluster, *client.Client, *redis.Client) {
	t.Helper()
	c := startCluster(t, 3, func(cfg *devcluster.Config) { cfg.Gateway = true })
	cl := newClient(t, c)
	createKeyspace(t, c, cl, gatewayKeyspace, shards, 2)
	require.NotEmpty(t, c.GatewayAddr())
	// Default options: go-redis asks HELLO 3 first and falls back to RESP2.
	rc := redis.NewClient(&redis.Options{Addr: c.GatewayAddr()})
	t.Cleanup(func() { _ = rc.Close() })
	// The gateway's own client sees the keyspace (it follows the same
	// topology as cl).
	require.Eventually(t, func() bool {
		return rc.Ping(context.Background()).Err() == nil && rc.Exists(context.Background(), "x").Err() == nil
	},
		10*time.Second, 20*time.Millisecond)
	return c, cl, rc
}

// keysOnShards returns n keys per shard of a keyspace of shards shards.
func keysOnShards(shards, n int) [][]string {
	out := make([][]string, shards)
	for i := 0; ; i++ {
		k := fmt.Sprintf("key%04d", i)
		s := topology.ShardOf([]byte(k), shards)
		if len(out[s]) < n {
			out[s] = append(out[s], k)
		}
		done := true
		for _, ks := range out {
			done = done && len(ks) == n
		}
		if done {
			return out
		}
	}
}

func TestGatewayStringCommands(t *testing.T) {
	_, cl, rc := startGateway(t, 3)
	ctx := ctxT(t)

	require.NoError(t, rc.Set(ctx, "k", "v", 0).Err())
	require.Equal(t, "v", rc.Get(ctx, "k").Val())
	require.Eventually(t, func() bool {
		it, err := cl.Get(ctx, gatewayKeyspace, []byte("k"))
		return err == nil && string(it.Value) == "v"
	}, 10*time.Second, 20*time.Millisecond, "a gateway write is the keyspace's, read by the Go client")
	require.ErrorIs(t, rc.Get(ctx, "missing").Err(), redis.Nil)

	// SET options: EX/PX, NX/XX.
	require.False(t, rc.SetNX(ctx, "k", "x", 0).Val())
	require.True(t, rc.SetNX(ctx, "nx", "1", time.Minute).Val())
	require.True(t, rc.SetXX(ctx, "nx", "2", 0).Val())
	require.False(t, rc.SetXX(ctx, "none", "2", 0).Val())
	require.Equal(t, "2", rc.Get(ctx, "nx").Val())
	require.NoError(t, rc.Set(ctx, "ex", "v", 30*time.Second).Err())
	require.InDelta(t, 30, rc.TTL(ctx, "ex").Val().Seconds(), 2)
	require.Greater(t, rc.PTTL(ctx, "ex").Val(), 25*time.Second)
	require.Equal(t, time.Duration(-1), rc.TTL(ctx, "k").Val())
	require.Equal(t, time.Duration(-2), rc.PTTL(ctx, "missing").Val())
	require.Equal(t, "OK", rc.Do(ctx, "SETEX", "setex", "60", "v").Val())
	require.Greater(t, rc.PTTL(ctx, "setex").Val(), 50*time.Second)
	require.Equal(t, "OK", rc.Do(ctx, "PSETEX", "psetex", "60000", "v").Val())
	require.Greater(t, rc.PTTL(ctx, "psetex").Val(), 50*time.Second)

	// Multi-key commands span shards.
	keys := keysOnShards(3, 2)
	var kv []any
	var all []string
	for _, ks := range keys {
		for _, k := range ks {
			kv = append(kv, k, "val-"+k)
			all = append(all, k)
		}
	}
	require.NoError(t, rc.MSet(ctx, kv...).Err())
	vals := rc.MGet(ctx, append(all, "missing")...).Val()
	require.Len(t, vals, len(all)+1)
	for i, k := range all {
		require.Equal(t, "val-"+k, vals[i])
	}
	require.Nil(t, vals[len(all)])
	require.Equal(t, int64(len(all)), rc.Exists(ctx, all...).Val())
	require.Equal(t, int64(2), rc.Exists(ctx, all[0], all[0]).Val(), "EXISTS counts repeats")
	require.Equal(t, int64(2), rc.Del(ctx, all[0], all[len(all)-1], "missing").Val())
	require.Equal(t, int64(len(all)-2), rc.Exists(ctx, all...).Val())

	// Read-modify-write commands.
	require.True(t, rc.Expire(ctx, "k", time.Minute).Val())
	require.Greater(t, rc.TTL(ctx, "k").Val(), 50*time.Second)
	require.Equal(t, "v", rc.Get(ctx, "k").Val())
	require.True(t, rc.Persist(ctx, "k").Val())
	require.Equal(t, time.Duration(-1), rc.TTL(ctx, "k").Val())
	require.False(t, rc.Persist(ctx, "k").Val(), "no TTL to drop")
	require.False(t, rc.Expire(ctx, "missing", time.Minute).Val())
	require.True(t, rc.PExpire(ctx, "nx", time.Minute).Val())
	require.Equal(t, "v", rc.Do(ctx, "GETSET", "k", "w").Val())
	require.Equal(t, "w", rc.GetDel(ctx, "k").Val())
	require.ErrorIs(t, rc.Get(ctx, "k").Err(), redis.Nil)
	require.Equal(t, "none", rc.Type(ctx, "k").Val())
	require.Equal(t, "string", rc.Type(ctx, "nx").Val())
	require.True(t, rc.Expire(ctx, "nx", -time.Second).Val(), "a TTL that is not positive deletes, as in Redis")
	require.ErrorIs(t, rc.Get(ctx, "nx").Err(), redis.Nil)

	// Versioned commands with event times.
	et := time.Now().UnixNano()
	res, err := rc.Do(ctx, "VSET", "vk", "old", "EVENTTIME", et).Slice()
	require.NoError(t, err)
	require.Equal(t, int64(1), res[0])
	res, err = rc.Do(ctx, "VSET", "vk", "older", "EVENTTIME", et-1000).Slice()
	require.NoError(t, err)
	require.Equal(t, int64(0), res[0], "an older event time loses")
	got, err := rc.Do(ctx, "VGET", "vk").Slice()
	require.NoError(t, err)
	require.Equal(t, "old", got[0])
	require.Equal(t, et, got[1])
	require.ErrorIs(t, rc.Do(ctx, "VGET", "nothing").Err(), redis.Nil)

	// Keyspace-wide commands.
	require.Greater(t, rc.DBSize(ctx).Val(), int64(0))
	info := rc.Info(ctx).Val()
	require.Contains(t, info, "vasto_mode:gateway")
	require.Contains(t, info, fmt.Sprintf("topology_version:%d", cl.Topology().Version))
	require.Equal(t, "PONG", rc.Ping(ctx).Val())
	require.Equal(t, "hi", rc.Echo(ctx, "hi").Val())
	keysAll := rc.Keys(ctx, "key*").Val()
	require.Len(t, keysAll, len(all)-2)
	require.True(t, slices.IsSorted(keysAll), "KEYS answers in key order")

	// Data-structure commands get a clear error.
	err = rc.LPush(ctx, "l", "x").Err()
	require.ErrorContains(t, err, "'lpush' is a list command")
	err = rc.HSet(ctx, "h", "f", "v").Err()
	require.ErrorContains(t, err, "'hset' is a hash command")
	err = rc.Do(ctx, "NOSUCH", "a").Err()
	require.ErrorContains(t, err, "ERR unknown command 'NOSUCH'")
}

// A pipeline spread over every shard is split per shard, one batch per
// store, and answered in the order it was sent.
func TestGatewayPipelineAcrossShardsInOrder(t *testing.T) {
	_, cl, rc := startGateway(t, 4)
	ctx := ctxT(t)

	const n = 400
	pipe := rc.Pipeline()
	sets := make([]*redis.StatusCmd, n)
	gets := make([]*redis.StringCmd, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("p%04d", i)
		sets[i] = pipe.Set(ctx, k, fmt.Sprint(i), 0)
		gets[i] = pipe.Get(ctx, k) // reads its own write, on the same shard
	}
	miss := pipe.Get(ctx, "missing")
	_, err := pipe.Exec(ctx)
	require.ErrorIs(t, err, redis.Nil) // only the last GET is nil
	for i := 0; i < n; i++ {
		require.NoError(t, sets[i].Err())
		require.Equal(t, fmt.Sprint(i), gets[i].Val(), "reply %d in order", i)
	}
	require.ErrorIs(t, miss.Err(), redis.Nil)

	// Every key landed on its shard: the Go client reads them all (from
	// a replica that serves the shard, which may be one the writes reach
	// by replication).
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("p%04d", i))
	}
	require.Eventually(t, func() bool {
		items, err := cl.BatchGet(ctx, gatewayKeyspace, keys)
		if err != nil {
			return false
		}
		for i, it := range items {
			if it == nil || string(it.Value) != fmt.Sprint(i) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)

	// A bad command in the middle fails alone.
	pipe = rc.Pipeline()
	a := pipe.Set(ctx, "a", "1", 0)
	bad := pipe.Do(ctx, "SET", "", "x")
	b := pipe.Get(ctx, "a")
	_, _ = pipe.Exec(ctx)
	require.NoError(t, a.Err())
	require.ErrorContains(t, bad.Err(), "empty key")
	require.Equal(t, "1", b.Val())
}

func TestGatewayMultiExec(t *testing.T) {
	_, cl, rc := startGateway(t, 3)
	ctx := ctxT(t)
	keys := keysOnShards(3, 3)

	// All keys in one shard: one pipeline to one replica.
	one := keys[1]
	cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, one[0], "a", 0)
		p.Set(ctx, one[1], "b", 0)
		p.Get(ctx, one[0])
		p.Del(ctx, one[2])
		return nil
	})
	require.NoError(t, err)
	require.Len(t, cmds, 4)
	require.Equal(t, "a", cmds[2].(*redis.StringCmd).Val())
	require.Equal(t, int64(0), cmds[3].(*redis.IntCmd).Val())

	// Keys across shards: every command is answered, in order.
	cmds, err = rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, ks := range keys {
			p.Set(ctx, ks[0], "x-"+ks[0], 0)
		}
		for _, ks := range keys {
			p.Get(ctx, ks[0])
		}
		return nil
	})
	require.NoError(t, err)
	for i, ks := range keys {
		require.Equal(t, "x-"+ks[0], cmds[len(keys)+i].(*redis.StringCmd).Val())
		require.Eventually(t, func() bool {
			it, err := cl.Get(ctx, gatewayKeyspace, []byte(ks[0]))
			return err == nil && string(it.Value) == "x-"+ks[0]
		}, 10*time.Second, 20*time.Millisecond)
	}

	// Raw MULTI/EXEC/DISCARD replies on one connection.
	conn := rc.Conn()
	defer conn.Close()
	require.ErrorContains(t, conn.Do(ctx, "EXEC").Err(), "EXEC without MULTI")
	require.ErrorContains(t, conn.Do(ctx, "DISCARD").Err(), "DISCARD without MULTI")
	require.Equal(t, "OK", conn.Do(ctx, "MULTI").Val())
	require.ErrorContains(t, conn.Do(ctx, "MULTI").Err(), "nested")
	require.Equal(t, "QUEUED", conn.Do(ctx, "SET", "d", "1").Val())
	require.Equal(t, "OK", conn.Do(ctx, "DISCARD").Val())
	require.ErrorIs(t, rc.Get(ctx, "d").Err(), redis.Nil, "a discarded transaction wrote nothing")
	require.Equal(t, "OK", conn.Do(ctx, "MULTI").Val())
	require.Equal(t, "QUEUED", conn.Do(ctx, "SET", "d", "1").Val())
	require.ErrorContains(t, conn.Do(ctx, "LPUSH", "l", "x").Err(), "list command")
	require.ErrorContains(t, conn.Do(ctx, "EXEC").Err(), "EXECABORT")
	require.ErrorIs(t, rc.Get(ctx, "d").Err(), redis.Nil, "an aborted transaction wrote nothing")
}

// SCAN pages through every shard in key order with opaque cursors and
// returns what the Go client's Scan returns.
func TestGatewayScanMatchesClientScan(t *testing.T) {
	_, cl, rc := startGateway(t, 4)
	ctx := ctxT(t)
	var kvs []client.KV
	for i := 0; i < 300; i++ {
		prefix := "user:"
		if i%3 == 0 {
			prefix = "item:"
		}
		kvs = append(kvs, client.KV{Key: []byte(fmt.Sprintf("%s%04d", prefix, i)), Value: []byte("v")})
	}
	_, err := cl.BatchPut(ctx, gatewayKeyspace, kvs)
	require.NoError(t, err)

	for _, match := range []string{"", "user:*", "item:00*"} {
		var want []string
		items, err := cl.Scan(ctx, gatewayKeyspace, client.ScanOptions{Prefix: []byte(strings.TrimSuffix(match, "*")), Limit: 1000})
		require.NoError(t, err)
		for _, it := range items {
			want = append(want, string(it.Key))
		}
		var got []string
		cursor := uint64(0)
		pages := 0
		for {
			keys, next, err := rc.Scan(ctx, cursor, match, 13).Result()
			require.NoError(t, err)
			got = append(got, keys...)
			pages++
			if next == 0 {
				break
			}
			cursor = next
		}
		require.Equal(t, want, got, "match %q", match)
		require.Greater(t, pages, 1, "match %q", match)
	}
	require.ErrorContains(t, rc.Scan(ctx, 999999, "", 10).Err(), "unknown or expired cursor")
	require.ErrorContains(t, rc.Do(ctx, "SCAN", "0", "COUNT", "0").Err(), "COUNT must be")
}

// The gateway keeps routing while the keyspace is resized under it.
func TestGatewayRoutesThroughResize(t *testing.T) {
	_, cl, rc := startGateway(t, 2)
	ctx := ctxT(t)
	var written atomic.Int64
	var failed atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pipe := rc.Pipeline()
				for j := 0; j < 8; j++ {
					pipe.Set(ctx, fmt.Sprintf("w%d-%06d-%d", w, i, j), "v", 0)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					failed.Store(err)
					return
				}
				written.Add(8)
			}
		}()
	}
	waitCount := func(n int64) {
		require.Eventually(t, func() bool { return written.Load() >= n || failed.Load() != nil }, 30*time.Second, 5*time.Millisecond)
	}
	waitCount(200)
	before := cl.Topology().Version
	resize(t, cl, gatewayKeyspace, 5)
	from := written.Load()
	waitCount(from + 200)
	close(stop)
	wg.Wait()
	require.Nil(t, failed.Load(), "no gateway command failed during the resize")
	require.Greater(t, cl.Topology().Version, before)

	// Every acknowledged write reads back through the gateway, routed by
	// the new layout.
	require.Contains(t, rc.Info(ctx).Val(), gatewayKeyspace+":shards=5,")
	count := func() int {
		n := 0
		cursor := uint64(0)
		for {
			keys, next, err := rc.Scan(ctx, cursor, "w*", 1000).Result()
			if err != nil {
				return -1
			}
			n += len(keys)
			if next == 0 {
				return n
			}
			cursor = next
		}
	}
	// Reads go to replicas that serve a shard, which may still be applying
	// the last writes.
	require.Eventually(t, func() bool { return count() == int(written.Load()) }, 20*time.Second, 50*time.Millisecond)
}

// Bad input gets a clear error and the connection survives where Redis'
// does; a malformed frame ends it after the error.
func TestGatewayBadInput(t *testing.T) {
	c, _, rc := startGateway(t, 2)
	ctx := ctxT(t)
	nc, err := net.Dial("tcp", c.GatewayAddr())
	require.NoError(t, err)
	defer nc.Close()
	r := bufio.NewReader(nc)
	send := func(s string) string {
		_, err := nc.Write([]byte(s))
		require.NoError(t, err)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		return strings.TrimRight(line, "\r\n")
	}
	require.True(t, strings.HasPrefix(send("HELLO 3\r\n"), "-NOPROTO "))
	require.True(t, strings.HasPrefix(send("GET\r\n"), "-ERR wrong number of arguments for 'get'"))
	require.True(t, strings.HasPrefix(send("VUSE no/such\r\n"), "-BADNAME "))
	require.True(t, strings.HasPrefix(send("GET k\r\n"), "-ERR "), "no keyspace after a failed VUSE")
	require.True(t, strings.HasPrefix(send("VUSE nosuch\r\n"), "-ERR unknown keyspace"))
	require.True(t, strings.HasPrefix(send("VUSE default 0\r\n"), "-ERR "), "the gateway picks shards itself")
	require.Equal(t, "+OK", send("VUSE default\r\n"))
	require.Equal(t, "+OK", send("SELECT 0\r\n"))
	require.True(t, strings.HasPrefix(send("SELECT 3\r\n"), "-ERR "))
	require.True(t, strings.HasPrefix(send("SET k v NX XX\r\n"), "-ERR "))
	require.True(t, strings.HasPrefix(send("SET k v EX -1\r\n"), "-BADTIME "))
	require.True(t, strings.HasPrefix(send("EXPIRE k abc\r\n"), "-ERR "))
	big := strings.Repeat("k", client.MaxKeySize+1)
	require.True(t, strings.HasPrefix(send(fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(big), big)), "-TOOLARGE "))
	// An argument over the limit is skipped without buffering it.
	require.True(t, strings.HasPrefix(send(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n", client.MaxValueSize+1,
		strings.Repeat("x", client.MaxValueSize+1))), "-TOOLARGE "))
	require.Equal(t, "+PONG", send("PING\r\n"))
	require.True(t, strings.HasPrefix(send("*2\r\n$3\r\nGET\r\n$4294967296\r\n"), "-ERR Protocol error"))
	_, err = r.ReadString('\n')
	require.Error(t, err, "a malformed frame closes the connection")
	require.ErrorIs(t, rc.Get(ctx, "k").Err(), redis.Nil, "nothing above wrote")
}

// pythonWithRedis returns a python3 that can import redis (Debian's
// python3-redis), or "".
func pythonWithRedis() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import redis").Run() == nil {
			return p
		}
	}
	return ""
}

// redis-py 4.3 against the gateway: SET NX/XX, pipelines (MULTI/EXEC by
// default and without), SCAN.
func TestGatewayRedisPy(t *testing.T) {
	py := pythonWithRedis()
	if py == "" {
		t.Skip("python3 with the redis module not found: install Debian's python3-redis (make test does)")
	}
	c, _, _ := startGateway(t, 3)
	_, port, err := net.SplitHostPort(c.GatewayAddr())
	require.NoError(t, err)
	script := filepath.Join(t.TempDir(), "gateway.py")
	require.NoError(t, os.WriteFile(script, []byte(redisPyScript), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, script, port).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "redis-py ok")
}

const redisPyScript = `
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
assert r.ping()
assert r.set("k", "v")
assert r.get("k") == b"v"
assert r.set("k", "x", nx=True) is None
assert r.set("n", "1", nx=True) is True
assert r.set("n", "2", xx=True) is True
assert r.set("absent", "2", xx=True) is None
assert r.set("e", "v", ex=60) and 55 <= r.ttl("e") <= 60
p = r.pipeline()  # MULTI/EXEC
for i in range(50):
    p.set("py%03d" % i, i)
    p.get("py%03d" % i)
res = p.execute()
assert res[1::2] == [str(i).encode() for i in range(50)], res
p = r.pipeline(transaction=False)
for i in range(50):
    p.get("py%03d" % i)
assert p.execute() == [str(i).encode() for i in range(50)]
assert r.mset({"m1": "a", "m2": "b"}) and r.mget("m1", "m2", "zz") == [b"a", b"b", None]
assert r.delete("m1", "m2", "zz") == 2 and r.exists("m1") == 0
keys = sorted(r.scan_iter(match="py*", count=7))
assert keys == sorted(("py%03d" % i).encode() for i in range(50)), keys
assert r.expire("k", 100) and r.ttl("k") > 90 and r.persist("k") and r.ttl("k") == -1
assert r.getset("k", "w") == b"v" and r.type("k") == b"string"
try:
    r.lpush("l", "x")
    raise SystemExit("lpush did not fail")
except redis.ResponseError as e:
    assert "list command" in str(e), e
print("redis-py ok")
`

// redis-benchmark (pipelined and not) runs against the gateway.
func TestGatewayRedisBenchmark(t *testing.T) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		t.Skip("redis-benchmark not found: install Debian's redis-tools (make bench-deps does)")
	}
	c, cl, _ := startGateway(t, 3)
	_, port, err := net.SplitHostPort(c.GatewayAddr())
	require.NoError(t, err)
	for _, p := range []string{"1", "16"} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", port, "-c", "10", "-n", "2000", "-d", "100",
			"-t", "set,get", "-P", p, "-r", "1000", "-q").CombinedOutput()
		cancel()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), "SET: ", string(out))
		require.Contains(t, string(out), "GET: ", string(out))
		require.NotContains(t, string(out), "ERR", string(out))
	}
	// Its keys (key:000000000123) are the keyspace's.
	items, err := cl.Scan(ctxT(t), gatewayKeyspace, client.ScanOptions{Prefix: []byte("key:"), Limit: 2000})
	require.NoError(t, err)
	require.NotEmpty(t, items)
}

// Connections' batches that arrive together are merged into one pipeline
// per store; each connection still gets its own replies, in order.
func TestGatewayConcurrentConnectionsGetTheirReplies(t *testing.T) {
	_, _, rc := startGateway(t, 3)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := rc.Conn()
			defer conn.Close()
			for round := 0; round < 20; round++ {
				pipe := conn.Pipeline()
				gets := make([]*redis.StringCmd, 10)
				for i := range gets {
					k := fmt.Sprintf("c%02d-%d", w, i)
					pipe.Set(ctx, k, fmt.Sprintf("%d/%d/%d", w, round, i), 0)
					gets[i] = pipe.Get(ctx, k)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					errs <- err
					return
				}
				for i, g := range gets {
					if want := fmt.Sprintf("%d/%d/%d", w, round, i); g.Val() != want {
						errs <- fmt.Errorf("connection %d got %q, want %q", w, g.Val(), want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
