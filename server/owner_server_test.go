package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// requireCode checks that err is a RESP error with the given code.
func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), code+" "), "want %s, got %q", code, err.Error())
}

func TestServerMovedKeys(t *testing.T) {
	srv, e := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	o := store.Owner{Shards: 4, Index: 2}
	owned := keysOf(o, true, "own", 20)
	moved := keysOf(o, false, "mov", 20)
	for i := range owned {
		require.NoError(t, rc.Set(ctx, string(owned[i]), "o", 0).Err())
		require.NoError(t, rc.Set(ctx, string(moved[i]), "m", 0).Err())
	}
	_, err = sh.SetOwner(ctx, o, 1)
	require.NoError(t, err)
	own, mov := string(owned[0]), string(moved[0])

	require.Equal(t, "o", rc.Get(ctx, own).Val())
	requireCode(t, "MOVED", rc.Get(ctx, mov).Err())
	requireCode(t, "MOVED", rc.Do(ctx, "VGET", mov).Err())
	requireCode(t, "MOVED", rc.MGet(ctx, own, mov).Err())
	require.Equal(t, []any{"o", "o"}, rc.MGet(ctx, own, string(owned[1])).Val())
	requireCode(t, "MOVED", rc.Exists(ctx, own, mov).Err())
	requireCode(t, "MOVED", rc.PTTL(ctx, mov).Err())
	requireCode(t, "MOVED", rc.TTL(ctx, mov).Err())
	require.Equal(t, int64(1), rc.Exists(ctx, own).Val())

	requireCode(t, "MOVED", rc.Set(ctx, mov, "x", 0).Err())
	requireCode(t, "MOVED", rc.Del(ctx, mov).Err())
	requireCode(t, "MOVED", rc.Do(ctx, "VSET", mov, "x").Err())
	cmds, _ := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, own, "new", 0)
		p.Set(ctx, mov, "new", 0)
		p.MSet(ctx, string(owned[1]), "new", mov, "new")
		p.Get(ctx, own)
		return nil
	})
	require.NoError(t, cmds[0].Err(), "an owned write pipelined with an unowned one succeeds")
	requireCode(t, "MOVED", cmds[1].Err())
	requireCode(t, "MOVED", cmds[2].Err())
	require.Equal(t, "new", cmds[3].(*redis.StringCmd).Val())
	require.Equal(t, "o", rc.Get(ctx, string(owned[1])).Val(), "a command with an unowned key writes nothing")

	// VSCAN and SCAN skip the unowned keys still stored.
	res, err := rc.Do(ctx, "VSCAN", "LIMIT", 1000).Slice()
	require.NoError(t, err)
	require.Nil(t, res[0])
	flat := res[1].([]any)
	var got []string
	for i := 0; i < len(flat); i += 2 {
		got = append(got, flat[i].(string))
	}
	require.Len(t, got, len(owned))
	for _, k := range got {
		require.True(t, o.Owns([]byte(k)), k)
	}
	var scanned []string
	for cur := uint64(0); ; {
		keys, next, err := rc.Scan(ctx, cur, "", 7).Result()
		require.NoError(t, err)
		scanned = append(scanned, keys...)
		if next == 0 {
			break
		}
		cur = next
	}
	require.ElementsMatch(t, got, scanned)

	// VDUMP copies everything, owned or not.
	res, err = rc.Do(ctx, "VDUMP", "LIMIT", 1000).Slice()
	require.NoError(t, err)
	changes, err := decodeDump(res)
	require.NoError(t, err)
	require.Len(t, changes, len(owned)+len(moved))
}

func TestServerVDumpShardsTarget(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	const n = 12000
	for i := 0; i < n; i += 1000 {
		args := make([]any, 0, 2000)
		for j := i; j < i+1000; j++ {
			args = append(args, fmt.Sprintf("key%05d", j), "v")
		}
		require.NoError(t, rc.MSet(ctx, args...).Err())
	}
	// dump pages through VDUMP with the filter and returns every key once,
	// how many calls it took and how many of them were short but not last.
	dump := func(shards, target, limit int) (keys map[string]int, calls, short int) {
		keys = map[string]int{}
		var start string
		for {
			args := []any{"VDUMP", "LIMIT", limit, "SHARDS", shards, "TARGET", target}
			if start != "" {
				args = append(args, "START", start)
			}
			res, err := rc.Do(ctx, args...).Slice()
			require.NoError(t, err)
			changes, err := decodeDump(res)
			require.NoError(t, err)
			require.LessOrEqual(t, len(changes), limit)
			calls++
			for _, ch := range changes {
				keys[string(ch.Key)]++
				require.Equal(t, "v", string(ch.Record.Value))
			}
			if res[0] == nil {
				return keys, calls, short
			}
			if len(changes) < limit {
				short++
			}
			start = res[0].(string)
		}
	}
	want := func(shards, target int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("key%05d", i)
			if topology.ShardOf([]byte(k), shards) == uint32(target) {
				m[k] = 1
			}
		}
		return m
	}
	total := 0
	for target := 0; target < 4; target++ {
		keys, calls, _ := dump(4, target, 37)
		require.Equal(t, want(4, target), keys, "target %d: every moving key exactly once", target)
		require.GreaterOrEqual(t, calls, len(keys)/37)
		total += len(keys)
	}
	require.Equal(t, n, total)

	// Sparse matches: a call stops after its scan budget (10 000 records
	// here) with a short page and a next key.
	keys, calls, short := dump(2000, 7, 100)
	require.Equal(t, want(2000, 7), keys)
	require.GreaterOrEqual(t, calls, 2)
	require.Positive(t, short)

	for _, args := range [][]any{
		{"VDUMP", "SHARDS", 4},
		{"VDUMP", "TARGET", 1},
		{"VDUMP", "SHARDS", 4, "TARGET", 4},
		{"VDUMP", "SHARDS", 0, "TARGET", 0},
		{"VDUMP", "SHARDS", 4, "TARGET", -1},
		{"VDUMP", "SHARDS", 4, "TARGET", 1, "LIMIT", 0},
	} {
		requireCode(t, "ERR", rc.Do(ctx, args...).Err())
	}
}

func TestServerVFence(t *testing.T) {
	srv, e := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)

	requireCode(t, "BEHIND", rc.Do(ctx, "VFENCE", 1).Err())
	requireCode(t, "ERR", rc.Do(ctx, "VFENCE", "x").Err())
	for i := 0; i < 5; i++ {
		require.NoError(t, rc.Set(ctx, fmt.Sprint(i), "v", 0).Err())
	}
	fence, err := sh.SetOwner(ctx, store.Owner{Shards: 2, Index: 1}, 3)
	require.NoError(t, err)
	require.Equal(t, uint64(5), fence)

	for _, v := range []int{0, 2, 3} {
		res, err := rc.Do(ctx, "VFENCE", v).Int64Slice()
		require.NoError(t, err)
		require.Equal(t, []int64{5, 1}, res, "VFENCE %d", v)
	}
	requireCode(t, "BEHIND", rc.Do(ctx, "VFENCE", 4).Err())

	require.NoError(t, sh.TrimLog(4))
	res, err := rc.Do(ctx, "VFENCE", 3).Int64Slice()
	require.NoError(t, err)
	require.Equal(t, []int64{5, 4}, res, "the first index still held follows the trim")
}
