package peerclient_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// TestDumpIterator reads a filtered dump with Dump: pages come in key order
// and cover contiguous ranges from the request's start to the end, every
// key that moves comes back once with its value, and the arena is reused
// between pages.
func TestDumpIterator(t *testing.T) {
	srv := testServer(t)
	rc := testClient(t, srv)
	ctx := context.Background()
	const n = 3000
	want := map[string]bool{}
	args := make([]any, 0, 2*n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key%05d", i)
		args = append(args, k, "value-"+k)
		if topology.ShardOf([]byte(k), 3) == 1 {
			want[k] = true
		}
	}
	require.NoError(t, rc.MSet(ctx, args...).Err())
	pc, err := peerclient.Dial(ctx, srv.Addr().String(), peerclient.Options{})
	require.NoError(t, err)
	defer func() { _ = pc.Close() }()

	got := map[string]bool{}
	var prevEnd []byte
	pages := 0
	req := peerclient.DumpRequest{Keyspace: "default", Shard: 0, Limit: 200, Shards: 3, Target: 1}
	err = pc.Dump(ctx, req, func(p peerclient.DumpPage) error {
		require.Equal(t, prevEnd, p.Start, "page %d starts where the previous ended", pages)
		for _, ch := range p.Changes {
			k := string(ch.Key)
			require.False(t, got[k], "key %s twice", k)
			require.GreaterOrEqual(t, k, string(p.Start))
			if p.End != nil {
				require.Less(t, k, string(p.End))
			}
			got[k] = true
			require.Equal(t, "value-"+k, string(ch.Record.Value))
		}
		prevEnd = p.End
		pages++
		return nil
	})
	require.NoError(t, err)
	require.Nil(t, prevEnd, "the last page ends at the end of the shard")
	require.Equal(t, want, got)
	require.Greater(t, pages, 3)

	// From a start key, unfiltered: exactly the keys from there on.
	count := 0
	req = peerclient.DumpRequest{Keyspace: "default", Limit: 500, Start: []byte("key02500")}
	require.NoError(t, pc.Dump(ctx, req, func(p peerclient.DumpPage) error {
		count += len(p.Changes)
		return nil
	}))
	require.Equal(t, 500, count)
}

// TestDumpRetain: with Retain, every page's keys and records stay valid
// until the caller resets the arena.
func TestDumpRetain(t *testing.T) {
	srv := testServer(t)
	rc := testClient(t, srv)
	ctx := context.Background()
	args := make([]any, 0, 2000)
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("key%05d", i)
		args = append(args, k, "value-"+k)
	}
	require.NoError(t, rc.MSet(ctx, args...).Err())
	pc, err := peerclient.Dial(ctx, srv.Addr().String(), peerclient.Options{})
	require.NoError(t, err)
	defer func() { _ = pc.Close() }()

	var all []lww.Change
	req := peerclient.DumpRequest{Keyspace: "default", Limit: 100, Retain: true}
	require.NoError(t, pc.Dump(ctx, req, func(p peerclient.DumpPage) error {
		all = append(all, p.Changes...)
		return nil
	}))
	require.Len(t, all, 1000)
	for i, ch := range all {
		k := fmt.Sprintf("key%05d", i)
		require.Equal(t, k, string(ch.Key))
		require.Equal(t, "value-"+k, string(ch.Record.Value))
	}
	pc.Reset()
}

// TestDumpStops: an error of the callback is returned as is and ends the
// dump, a done context stops it before the next page, and an error reply
// (unknown shard) is returned with the connection still usable.
func TestDumpStops(t *testing.T) {
	srv := testServer(t)
	rc := testClient(t, srv)
	ctx := context.Background()
	args := make([]any, 0, 200)
	for i := 0; i < 100; i++ {
		args = append(args, fmt.Sprintf("key%05d", i), "v")
	}
	require.NoError(t, rc.MSet(ctx, args...).Err())
	pc, err := peerclient.Dial(ctx, srv.Addr().String(), peerclient.Options{})
	require.NoError(t, err)
	defer func() { _ = pc.Close() }()

	stop := errors.New("stop")
	pages := 0
	req := peerclient.DumpRequest{Keyspace: "default", Limit: 10}
	err = pc.Dump(ctx, req, func(peerclient.DumpPage) error {
		pages++
		return stop
	})
	require.Same(t, stop, err)
	require.Equal(t, 1, pages)

	cctx, cancel := context.WithCancel(ctx)
	pages = 0
	err = pc.Dump(cctx, req, func(peerclient.DumpPage) error {
		pages++
		if pages == 2 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 2, pages)

	err = pc.Dump(ctx, peerclient.DumpRequest{Keyspace: "nope", Limit: 10}, func(peerclient.DumpPage) error {
		t.Fatal("no page of an unknown shard")
		return nil
	})
	require.True(t, peerclient.IsCode(err, "NOSHARD"), "%v", err)
	require.False(t, pc.Broken())
}
