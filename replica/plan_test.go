package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

func topo(kss ...*topology.Keyspace) *topology.Topology {
	t := &topology.Topology{Version: 10, Keyspaces: map[string]*topology.Keyspace{}}
	for _, ks := range kss {
		t.Keyspaces[ks.Name] = ks
	}
	return t
}

func ref(ks string, shard uint32) topology.ShardRef {
	return topology.ShardRef{Keyspace: ks, Shard: shard}
}

func TestPlanShards(t *testing.T) {
	two := [][]string{{"a", "b"}, {"b", "c"}}
	four := [][]string{{"a", "b"}, {"b", "c"}, {"c", "a"}, {"a", "b"}}
	cases := []struct {
		name string
		t    *topology.Topology
		me   string
		want map[topology.ShardRef]shardPlan
	}{
		{
			name: "no keyspace",
			t:    topo(),
			me:   "a",
			want: map[topology.ShardRef]shardPlan{},
		},
		{
			name: "routed layout only",
			t:    topo(&topology.Keyspace{Name: "ks", Shards: 2, Replicas: 2, Placement: two, Epoch: 3}),
			me:   "b",
			want: map[topology.ShardRef]shardPlan{
				ref("ks", 0): {peers: []string{"a"}, owner: store.Owner{Shards: 2, Index: 0}, epoch: 3, layout: 2, replicas: 2},
				ref("ks", 1): {peers: []string{"c"}, owner: store.Owner{Shards: 2, Index: 1}, epoch: 3, layout: 2, replicas: 2},
			},
		},
		{
			name: "store not placed",
			t:    topo(&topology.Keyspace{Name: "ks", Shards: 2, Replicas: 2, Placement: two, Epoch: 3}),
			me:   "z",
			want: map[topology.ShardRef]shardPlan{},
		},
		{
			name: "grow, copy phase: new targets own the new layout and fill",
			t: topo(&topology.Keyspace{Name: "ks", Shards: 2, Replicas: 2, Placement: two, Epoch: 3,
				Resize: &topology.Resize{ID: 7, From: 2, To: 4, Phase: topology.PhaseCopy, Placement: four, Epochs: []uint64{3, 3, 7, 7}}}),
			me: "a",
			want: map[topology.ShardRef]shardPlan{
				ref("ks", 0): {peers: []string{"b"}, owner: store.Owner{Shards: 2, Index: 0}, epoch: 3, layout: 2, replicas: 2},
				ref("ks", 2): {peers: []string{"c"}, owner: store.Owner{Shards: 4, Index: 2}, epoch: 7, layout: 4, replicas: 2, fill: 7},
				ref("ks", 3): {peers: []string{"b"}, owner: store.Owner{Shards: 4, Index: 3}, epoch: 7, layout: 4, replicas: 2, fill: 7},
			},
		},
		{
			name: "grow, switched phase: targets route and still fill",
			t: topo(&topology.Keyspace{Name: "ks", Shards: 4, Replicas: 2, Placement: four, Epoch: 3, ShardEpochs: []uint64{3, 3, 7, 7},
				Resize: &topology.Resize{ID: 7, From: 2, To: 4, Phase: topology.PhaseSwitched, Placement: two, Switched: 9}}),
			me: "c",
			want: map[topology.ShardRef]shardPlan{
				ref("ks", 1): {peers: []string{"b"}, owner: store.Owner{Shards: 4, Index: 1}, epoch: 3, layout: 4, replicas: 2},
				ref("ks", 2): {peers: []string{"a"}, owner: store.Owner{Shards: 4, Index: 2}, epoch: 7, layout: 4, replicas: 2, fill: 7},
			},
		},
		{
			name: "shrink, copy phase: remaining targets fill, removed sources still route",
			t: topo(&topology.Keyspace{Name: "ks", Shards: 4, Replicas: 2, Placement: four, Epoch: 3,
				Resize: &topology.Resize{ID: 8, From: 4, To: 2, Phase: topology.PhaseCopy, Placement: two}}),
			me: "c",
			want: map[topology.ShardRef]shardPlan{
				ref("ks", 1): {peers: []string{"b"}, owner: store.Owner{Shards: 4, Index: 1}, epoch: 3, layout: 4, replicas: 2, fill: 8},
				ref("ks", 2): {peers: []string{"a"}, owner: store.Owner{Shards: 4, Index: 2}, epoch: 3, layout: 4, replicas: 2},
			},
		},
		{
			name: "shrink, switched phase: removed sources own nothing until the end",
			t: topo(&topology.Keyspace{Name: "ks", Shards: 2, Replicas: 2, Placement: two, Epoch: 3,
				Resize: &topology.Resize{ID: 8, From: 4, To: 2, Phase: topology.PhaseSwitched, Placement: four, Switched: 9}}),
			me: "c",
			want: map[topology.ShardRef]shardPlan{
				ref("ks", 1): {peers: []string{"b"}, owner: store.Owner{Shards: 2, Index: 1}, epoch: 3, layout: 2, replicas: 2, fill: 8},
				ref("ks", 2): {peers: []string{"a"}, owner: ownNothing, epoch: 3, layout: 4, replicas: 2},
			},
		},
		{
			name: "target held in the old layout but not the new one does not fill",
			t: topo(&topology.Keyspace{Name: "ks", Shards: 4, Replicas: 2, Placement: four, Epoch: 3,
				Resize: &topology.Resize{ID: 8, From: 4, To: 2, Phase: topology.PhaseCopy, Placement: [][]string{{"b", "c"}, {"b", "c"}}}}),
			me: "a",
			want: map[topology.ShardRef]shardPlan{
				ref("ks", 0): {peers: []string{"b"}, owner: store.Owner{Shards: 4, Index: 0}, epoch: 3, layout: 4, replicas: 2},
				ref("ks", 2): {peers: []string{"c"}, owner: store.Owner{Shards: 4, Index: 2}, epoch: 3, layout: 4, replicas: 2},
				ref("ks", 3): {peers: []string{"b"}, owner: store.Owner{Shards: 4, Index: 3}, epoch: 3, layout: 4, replicas: 2},
			},
		},
		{
			name: "single replica has no peers; keyspaces are planned independently",
			t: topo(&topology.Keyspace{Name: "x", Shards: 1, Replicas: 1, Placement: [][]string{{"a"}}, Epoch: 1},
				&topology.Keyspace{Name: "y", Shards: 1, Replicas: 1, Placement: [][]string{{"b"}}, Epoch: 2}),
			me: "a",
			want: map[topology.ShardRef]shardPlan{
				ref("x", 0): {owner: store.Owner{Shards: 1, Index: 0}, epoch: 1, layout: 1, replicas: 1},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, planShards(c.t, c.me))
		})
	}
}

func TestNextWorker(t *testing.T) {
	cur := workerState{epoch: 5, peers: []string{"a", "b"}, serving: true}
	notServing := cur
	notServing.serving = false
	cases := []struct {
		name   string
		cur    workerState
		placed bool
		epoch  uint64
		peers  []string
		want   workerAction
	}{
		{"unchanged", cur, true, 5, []string{"a", "b"}, workerKeep},
		{"unchanged while catching up", notServing, true, 5, []string{"a", "b"}, workerKeep},
		{"peer added, serving", cur, true, 5, []string{"a", "b", "c"}, workerResume},
		{"peer removed, serving", cur, true, 5, []string{"a"}, workerResume},
		{"peers changed, not caught up", notServing, true, 5, []string{"a"}, workerRestart},
		{"other incarnation", cur, true, 6, []string{"a", "b"}, workerRestart},
		{"other incarnation and peers", cur, true, 6, []string{"c"}, workerRestart},
		{"no longer placed", cur, false, 0, nil, workerRestart},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, nextWorker(c.cur, c.placed, c.epoch, c.peers))
		})
	}
}

func TestNextDeparted(t *testing.T) {
	cases := []struct {
		name     string
		departed map[string]bool
		was, now []string
		want     map[string]bool
	}{
		{"nothing changes", nil, []string{"a"}, []string{"a"}, map[string]bool{}},
		{"peer leaves", nil, []string{"a", "b"}, []string{"a"}, map[string]bool{"b": true}},
		{"peer added is no departure", nil, []string{"a"}, []string{"a", "c"}, map[string]bool{}},
		{"earlier departure kept", map[string]bool{"x": true}, []string{"a", "b"}, []string{"a"}, map[string]bool{"x": true, "b": true}},
		{"departed peer comes back", map[string]bool{"b": true}, []string{"a"}, []string{"a", "b"}, map[string]bool{}},
		{"all leave", nil, []string{"a", "b"}, nil, map[string]bool{"a": true, "b": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := map[string]bool{}
			for k, v := range c.departed {
				in[k] = v
			}
			require.Equal(t, c.want, nextDeparted(c.departed, c.was, c.now))
			if c.departed != nil {
				require.Equal(t, in, c.departed, "input unchanged")
			}
		})
	}
}
