package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// TestDumpClientPages reads filtered dump pages with the fill's own RESP
// reader: every key that moves comes back once, with its value, across
// pages and arena resets; an unknown shard is an error.
func TestDumpClientPages(t *testing.T) {
	srv, _ := testServer(t, nil)
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
	dc, err := dialDump(ctx, srv.Addr().String())
	require.NoError(t, err)
	defer func() { _ = dc.Close() }()
	got := map[string]bool{}
	var start []byte
	pages := 0
	for {
		next, page, err := dc.page("default", 0, start, 300, 3, 2)
		require.NoError(t, err)
		pages++
		for _, ch := range page {
			k := string(ch.Key)
			require.False(t, got[k], "key %s twice", k)
			got[k] = true
			require.Equal(t, "value-"+k, string(ch.Record.Value))
		}
		if pages%2 == 0 {
			dc.reset()
		}
		if next == nil {
			break
		}
		start = next
	}
	require.Equal(t, want, got)
	require.Greater(t, pages, 3)

	_, _, err = dc.page("nope", 0, nil, 10, 3, 2)
	require.ErrorContains(t, err, "NOSHARD")
}
