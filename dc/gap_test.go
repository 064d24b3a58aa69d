package dc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHoles(t *testing.T) {
	cases := []struct {
		name string
		done uint64
		msgs []indexed
		want []hole
	}{
		{"empty batch", 5, nil, nil},
		{"continues the cursor", 5, []indexed{{6, 10}, {7, 11}}, nil},
		{"out of order but complete", 5, []indexed{{7, 11}, {6, 10}}, nil},
		{"duplicates only", 5, []indexed{{3, 10}, {5, 11}}, nil},
		{"duplicate and next", 5, []indexed{{5, 10}, {6, 11}, {6, 12}}, nil},
		{"one index missing", 5, []indexed{{7, 12}}, []hole{{applied: 5, idx: 7, seq: 12}}},
		{"nothing processed, stream starts later", 0, []indexed{{40, 3}, {41, 4}}, []hole{{applied: 0, idx: 40, seq: 3}}},
		{"nothing processed, stream starts at 1", 0, []indexed{{1, 3}, {2, 4}}, nil},
		{"two holes", 5, []indexed{{6, 10}, {9, 13}, {10, 14}, {20, 15}},
			[]hole{{applied: 6, idx: 9, seq: 13}, {applied: 10, idx: 20, seq: 15}}},
		{"hole filled later in the batch", 5, []indexed{{8, 13}, {6, 10}, {7, 11}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([]indexed(nil), c.msgs...)
			require.Equal(t, c.want, holes(c.done, c.msgs))
			require.Equal(t, in, append([]indexed(nil), c.msgs...), "input unchanged")
		})
	}
}
