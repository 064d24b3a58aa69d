package dc

import (
	"slices"

	"github.com/vasto-kv/vasto/store"
)

// indexed is one message of an origin in a batch: the origin's log index
// and the message's stream sequence.
type indexed struct{ idx, seq uint64 }

// hole is a run of an origin's indexes, from applied+1 to idx-1, that is
// neither processed here nor in the batch: the message at stream sequence
// seq (index idx) comes after it. Whether the stream still holds the run is
// for the probe to tell.
type hole struct{ applied, idx, seq uint64 }

// holes walks an origin's messages of a batch in index order from done, the
// index this store processed (store.OrderAfter): an index at or below what
// is covered so far is a duplicate, the next one extends it, and one
// further ahead leaves a hole before it and extends what is covered to
// itself. msgs is not modified.
func holes(done uint64, msgs []indexed) []hole {
	es := slices.Clone(msgs)
	slices.SortStableFunc(es, func(a, b indexed) int {
		switch {
		case a.idx < b.idx:
			return -1
		case a.idx > b.idx:
			return 1
		}
		return 0
	})
	var out []hole
	covered := done
	for _, e := range es {
		switch store.OrderAfter(covered, e.idx) {
		case store.IndexApplied:
			continue
		case store.IndexGap:
			out = append(out, hole{applied: covered, idx: e.idx, seq: e.seq})
		}
		covered = e.idx
	}
	return out
}
