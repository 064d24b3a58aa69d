package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
)

func TestStoreListShowsReadOnlyShards(t *testing.T) {
	var b strings.Builder
	require.NoError(t, printReadOnly(&b, []client.StoreInfo{{ID: "store1"}}))
	require.Empty(t, b.String(), "nothing when every shard takes writes")

	require.NoError(t, printReadOnly(&b, []client.StoreInfo{
		{ID: "store1", ReadOnly: map[string]string{"users/2": "IO error: No space left on device", "users/0": "IO error: No space left on device"}},
		{ID: "store2"},
	}))
	out := b.String()
	require.Contains(t, out, "READ-ONLY SHARDS")
	require.Regexp(t, `STORE\s+SHARD\s+REASON`, out)
	require.Regexp(t, `store1\s+users/0\s+IO error: No space left on device\n`, out)
	require.Less(t, strings.Index(out, "users/0"), strings.Index(out, "users/2"), "sorted")
	require.NotContains(t, out, "store2")
}
