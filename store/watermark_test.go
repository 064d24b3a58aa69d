package store

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdvanceMark(t *testing.T) {
	const asked = int64(100 * time.Second)
	cases := []struct {
		name string
		prev int64
		idle bool
		want int64
	}{
		{"idle, first time", 0, true, asked - int64(time.Second)},
		{"idle, advances", int64(50 * time.Second), true, asked - int64(time.Second)},
		{"busy, frozen", int64(50 * time.Second), false, int64(50 * time.Second)},
		{"busy, never seen idle", 0, false, 0},
		{"idle, never goes back", int64(200 * time.Second), true, int64(200 * time.Second)},
		{"idle, equal stays", asked - int64(time.Second), true, asked - int64(time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, AdvanceMark(c.prev, c.idle, asked))
		})
	}
}

func TestPurgeBound(t *testing.T) {
	const guard = 5 * time.Second
	cases := []struct {
		name  string
		marks []int64
		want  int64
	}{
		{"no source", nil, math.MaxInt64 - int64(guard)},
		{"one source", []int64{int64(100 * time.Second)}, int64(95 * time.Second)},
		{"minimum over sources", []int64{int64(100 * time.Second), int64(40 * time.Second), int64(70 * time.Second)}, int64(35 * time.Second)},
		{"a source never idle holds everything", []int64{int64(100 * time.Second), 0}, -int64(guard)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, PurgeBound(c.marks, guard))
		})
	}
}

// TestPurgeBoundOverRounds: a missing (busy) source freezes the bound while
// idle ones advance; once it is idle again the bound catches up.
func TestPurgeBoundOverRounds(t *testing.T) {
	marks := map[string]int64{}
	round := func(asked int64, idle map[string]bool) int64 {
		var ms []int64
		for _, s := range []string{"a", "b"} {
			marks[s] = AdvanceMark(marks[s], idle[s], asked)
			ms = append(ms, marks[s])
		}
		return PurgeBound(ms, 0)
	}
	sec := int64(time.Second)
	require.Equal(t, 9*sec, round(10*sec, map[string]bool{"a": true, "b": true}))
	require.Equal(t, 9*sec, round(20*sec, map[string]bool{"a": true}))
	require.Equal(t, 19*sec, marks["a"])
	require.Equal(t, 29*sec, round(30*sec, map[string]bool{"a": true, "b": true}))
}
