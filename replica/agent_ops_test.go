package replica

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestShardSizeCountsRawBytes: the size a store reports for resize plans
// counts keys and uncompressed bytes, not the compressed files.
func TestShardSizeCountsRawBytes(t *testing.T) {
	s, _ := testShard(t, nil)
	value := make([]byte, 100) // compresses to almost nothing
	for i := 0; i < 5000; i++ {
		_, err := s.Put(context.Background(), []byte(fmt.Sprintf("key%013d", i)), value)
		require.NoError(t, err)
	}
	require.NoError(t, s.Compact())
	sz := shardSize(s)
	require.InDelta(t, 5000, float64(sz.Keys), 500)
	require.Greater(t, sz.Bytes, uint64(5000*100), "at least the values' raw bytes")
	require.Less(t, sz.Bytes, uint64(5000*200))
}

func TestTableProp(t *testing.T) {
	props := "# data blocks=6; # entries=1000; raw key size=16000; raw average key size=16.000000; raw value size=100000"
	require.Equal(t, 16.0, tableProp(props, "raw average key size"))
	require.Equal(t, 0.0, tableProp(props, "raw average value size"))
	require.Equal(t, 0.0, tableProp("", "x"))
}

// TestShardSizeBeforeFlush: with everything still in the memtable the size
// is not zero.
func TestShardSizeBeforeFlush(t *testing.T) {
	s, _ := testShard(t, nil)
	for i := 0; i < 1000; i++ {
		_, err := s.Put(context.Background(), []byte(fmt.Sprintf("key%013d", i)), make([]byte, 100))
		require.NoError(t, err)
	}
	sz := shardSize(s)
	require.Greater(t, sz.Bytes, uint64(1000*100))
}
