package replica

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
)

func TestReplayedPeers(t *testing.T) {
	start := time.Unix(1000, 0)
	idle := 2 * time.Second
	cases := []struct {
		name      string
		pending   []string
		lastBatch map[string]time.Time
		now       time.Time
		want      []string
	}{
		{"nothing pending", nil, nil, start.Add(time.Hour), nil},
		{"no batch yet, not idle long enough", []string{"a"}, nil, start.Add(idle - 1), nil},
		{"no batch, idle since start", []string{"a"}, nil, start.Add(idle), []string{"a"}},
		{"recent batch keeps it pending", []string{"a"}, map[string]time.Time{"a": start.Add(time.Second)}, start.Add(idle), nil},
		{"batch idle long enough", []string{"a"}, map[string]time.Time{"a": start.Add(time.Second)}, start.Add(time.Second + idle), []string{"a"}},
		{"only idle peers", []string{"a", "b", "c"},
			map[string]time.Time{"a": start.Add(5 * time.Second), "b": start}, start.Add(3 * time.Second), []string{"b", "c"}},
		{"batch of a peer no longer pending is ignored", []string{"a"}, map[string]time.Time{"z": start}, start.Add(idle), []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pending := map[string]bool{}
			for _, p := range c.pending {
				pending[p] = true
			}
			got := replayedPeers(pending, c.lastBatch, start, c.now, idle)
			sort.Strings(got)
			require.Equal(t, c.want, got)
		})
	}
}

func TestDrainsPeer(t *testing.T) {
	cases := []struct {
		name string
		msgs []bus.Delivered
		want bool
	}{
		{"empty batch", nil, false},
		{"more pending", []bus.Delivered{{Pending: 0}, {Pending: 3}}, false},
		{"last pending delivered", []bus.Delivered{{Pending: 1}, {Pending: 0}}, true},
		{"single last message", []bus.Delivered{{Pending: 0}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, drainsPeer(c.msgs))
		})
	}
}
