package replica

import (
	"testing"

	"github.com/vasto-kv/vasto/topology"
)

func TestShardStateTidy(t *testing.T) {
	a := &Agent{shards: map[topology.ShardRef]*shardState{}}
	ref := topology.ShardRef{Keyspace: "ks", Shard: 1}
	if a.shard(ref) == nil || len(a.shards) != 0 {
		t.Fatal("reading a missing shard must not record it")
	}
	s := a.state(ref)
	if a.state(ref) != s || len(a.shards) != 1 {
		t.Fatal("state must return the one recorded entry")
	}
	s.departed = map[string]bool{"b": true}
	a.tidy(ref)
	if a.shard(ref) != s {
		t.Fatal("a shard with departed peers must be kept")
	}
	delete(s.departed, "b")
	a.tidy(ref)
	if len(a.shards) != 0 {
		t.Fatal("an empty shard state must be dropped")
	}
	for _, set := range []func(*shardState){
		func(s *shardState) { s.warned = true },
		func(s *shardState) { s.resume = true },
		func(s *shardState) { s.unplaced = "why" },
		func(s *shardState) { s.cleanup = func() {} },
		func(s *shardState) { s.worker = &shardWorker{} },
		func(s *shardState) { s.leaving = &shardWorker{} },
		func(s *shardState) { s.published = &shardWorker{} },
		func(s *shardState) { s.fill = &filler{} },
	} {
		s := &shardState{}
		set(s)
		if s.empty() {
			t.Fatalf("%+v reported empty", s)
		}
	}
}
