package client

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteMarksGiveTheLatestWriteOfAnotherStore(t *testing.T) {
	var m writeMarks
	w := func(store string, shard uint32, index uint64) WriteResult {
		return WriteResult{Applied: true, Version: Version{Time: 1, DC: "dc1", Node: store}, LogIndex: index, Store: store, Shard: shard}
	}
	require.Empty(t, m.tokenFor("ks", 0, "s2"))
	m.record("ks", w("s1", 0, 5))
	m.record("ks", w("s1", 0, 3)) // an older write acknowledged later
	require.Equal(t, "dc1:s1:0:5", m.tokenFor("ks", 0, "s2"))
	require.Empty(t, m.tokenFor("ks", 0, "s1"), "a store has applied its own writes")
	require.Empty(t, m.tokenFor("ks", 1, "s2"), "per shard")
	require.Empty(t, m.tokenFor("other", 0, "s2"), "per keyspace")

	// After a failover to s2, a hedge to s3 waits for the latest write.
	m.record("ks", w("s2", 0, 9))
	require.Equal(t, "dc1:s2:0:9", m.tokenFor("ks", 0, "s3"))
	require.Equal(t, "dc1:s1:0:5", m.tokenFor("ks", 0, "s2"))

	// Writes that changed nothing name no write.
	lost := w("s3", 0, 0)
	lost.Applied = false
	m.record("ks", lost)
	require.Equal(t, "dc1:s2:0:9", m.tokenFor("ks", 0, "s1"))
}
