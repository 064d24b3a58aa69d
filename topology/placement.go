package topology

import (
	"errors"
	"fmt"
	"sort"
)

// ErrNotEnoughStores is returned when a keyspace asks for more replicas than
// there are healthy stores.
var ErrNotEnoughStores = errors.New("topology: not enough stores")

// Place assigns replicas stores to each of shards shards. It is deterministic
// (same inputs, same output) and balanced: it fills the least-loaded stores
// first, counting the shards they already hold in existing (store -> load),
// and never puts two replicas of one shard on one store.
func Place(stores []string, load map[string]int, shards, replicas int) ([][]string, error) {
	if shards <= 0 || replicas <= 0 {
		return nil, fmt.Errorf("topology: shards and replicas must be positive (got %d, %d)", shards, replicas)
	}
	if replicas > len(stores) {
		return nil, fmt.Errorf("%w: %d replicas need %d healthy stores, have %d", ErrNotEnoughStores, replicas, replicas, len(stores))
	}
	cur := make(map[string]int, len(stores))
	for _, s := range stores {
		cur[s] = load[s]
	}
	order := append([]string(nil), stores...)
	first := make(map[string]int, len(stores))
	out := make([][]string, shards)
	for i := 0; i < shards; i++ {
		sort.SliceStable(order, func(a, b int) bool {
			if cur[order[a]] != cur[order[b]] {
				return cur[order[a]] < cur[order[b]]
			}
			return order[a] < order[b]
		})
		reps := append([]string(nil), order[:replicas]...)
		for _, s := range reps {
			cur[s]++
		}
		// The preferred (first) replica takes the writes: spread it too,
		// to the chosen store that is preferred least often so far.
		sort.SliceStable(reps, func(a, b int) bool {
			if first[reps[a]] != first[reps[b]] {
				return first[reps[a]] < first[reps[b]]
			}
			return reps[a] < reps[b]
		})
		first[reps[0]]++
		out[i] = reps
	}
	return out, nil
}

// Load counts the shard replicas each store holds in t.
func (t *Topology) Load() map[string]int {
	load := map[string]int{}
	for _, ks := range t.Keyspaces {
		for _, reps := range ks.Placement {
			for _, s := range reps {
				load[s]++
			}
		}
	}
	return load
}
