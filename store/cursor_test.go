package store

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrderAfter(t *testing.T) {
	cases := []struct {
		name        string
		cursor, idx uint64
		want        IndexOrder
	}{
		{"nothing applied, first index", 0, 1, IndexNext},
		{"nothing applied, log start aged out", 0, 5, IndexGap},
		{"index without number", 0, 0, IndexApplied},
		{"equal to the cursor", 7, 7, IndexApplied},
		{"behind the cursor", 7, 3, IndexApplied},
		{"next", 7, 8, IndexNext},
		{"one missing", 7, 9, IndexGap},
		{"far ahead", 7, 1 << 40, IndexGap},
		{"highest cursor", math.MaxUint64, math.MaxUint64, IndexApplied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, OrderAfter(c.cursor, c.idx))
		})
	}
}
