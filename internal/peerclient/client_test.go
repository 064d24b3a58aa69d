package peerclient_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/topology"
)

// TestDumpClientPages reads filtered dump pages with the fill's own RESP
// reader: every key that moves comes back once, with its value, across
// pages and arena resets; an unknown shard is an error.
func TestDumpClientPages(t *testing.T) {
	srv := testServer(t)
	rc := testClient(t, srv)
	ctx := context.Background()
	const n = 5000
	want := map[string]bool{}
	for i := 0; i < n; i += 500 {
		args := make([]any, 0, 1000)
		for j := i; j < i+500; j++ {
			k := fmt.Sprintf("key%05d", j)
			args = append(args, k, "value-"+k)
			if topology.ShardOf([]byte(k), 3) == 2 {
				want[k] = true
			}
		}
		require.NoError(t, rc.MSet(ctx, args...).Err())
	}
	dc, err := peerclient.Dial(ctx, srv.Addr().String(), peerclient.Options{})
	require.NoError(t, err)
	defer func() { _ = dc.Close() }()
	got := map[string]bool{}
	var start []byte
	pages := 0
	for {
		next, page, err := dc.Page("default", 0, start, 300, 3, 2)
		require.NoError(t, err)
		pages++
		for _, ch := range page {
			k := string(ch.Key)
			require.False(t, got[k], "key %s twice", k)
			got[k] = true
			require.Equal(t, "value-"+k, string(ch.Record.Value))
		}
		if pages%2 == 0 {
			dc.Reset()
		}
		if next == nil {
			break
		}
		start = next
	}
	require.Equal(t, want, got)
	require.Greater(t, pages, 3)

	_, _, err = dc.Page("nope", 0, nil, 10, 3, 2)
	require.ErrorContains(t, err, "NOSHARD")
}

// TestPeerClientCommands: small commands on a selected shard, and the
// error replies a caller tells apart.
func TestPeerClientCommands(t *testing.T) {
	srv := testServer(t)
	rc := testClient(t, srv)
	ctx := context.Background()
	require.NoError(t, rc.Set(ctx, "k", "v", 0).Err())
	pc, err := peerclient.Dial(ctx, srv.Addr().String(), peerclient.Options{})
	require.NoError(t, err)
	defer func() { _ = pc.Close() }()

	require.NoError(t, pc.Use("default", 0))
	err = pc.Use("nope", 0)
	require.True(t, peerclient.IsCode(err, "NOSHARD"), "%v", err)
	require.False(t, pc.Broken(), "an error reply leaves the connection usable")

	bounds, err := pc.Ints("default", 0, "VLOGINFO")
	require.NoError(t, err)
	require.Equal(t, []int64{1, 1}, bounds, "first unpublished and last index after one write")

	_, err = pc.Ints("default", 0, "VFENCE", "1")
	require.True(t, peerclient.IsCode(err, "BEHIND"), "%v", err)

	// A whole-shard dump (no filter) after the small commands.
	next, page, err := pc.Page("default", 0, nil, 10, 0, 0)
	require.NoError(t, err)
	require.Nil(t, next)
	require.Len(t, page, 1)
	require.Equal(t, "k", string(page[0].Key))
}
