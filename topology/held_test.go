package topology

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHasEpochAgreesWithEpochs: HasEpoch(e) is Epochs() containing e, for
// a keyspace with resized shards and a resize in progress.
func TestHasEpochAgreesWithEpochs(t *testing.T) {
	for _, ks := range []*Keyspace{
		{Epoch: 5},
		{Epoch: 0},
		{Epoch: 5, ShardEpochs: []uint64{5, 5, 9}},
		{Epoch: 5, ShardEpochs: []uint64{5, 9}, Resize: &Resize{Epochs: []uint64{5, 9, 12}}},
	} {
		for _, e := range []uint64{0, 1, 5, 9, 12, 13} {
			require.Equal(t, slices.Contains(ks.Epochs(), e), ks.HasEpoch(e), "keyspace %+v, epoch %d", ks, e)
		}
	}
}
