package topology

import "fmt"

// Online operations. A resize changes a keyspace's number of shards; a move
// takes one shard replica from one store to another (replace, drain and
// rebalance are sets of moves). Both are recorded in the topology, so every
// store follows them and a restarted master resumes them where they were:
// the master holds no state of its own about them.

// Resize phases.
const (
	// PhaseCopy: the new layout's target shards are filled from the source
	// shards (copy, then tailing the sources' change logs). Clients still
	// route by the old layout.
	PhaseCopy = "copy"
	// PhaseSwitched: the keyspace routes by the new layout. The targets keep
	// tailing the sources until every source replica has fenced off the keys
	// it gave away and everything it took before the fence reached them.
	PhaseSwitched = "switched"
)

// Resize is a change of a keyspace's number of shards in progress.
//
// Jump consistent hashing makes a resize move keys one way only: growing
// from n to m shards moves keys from the old shards to the new ones
// (n..m-1); shrinking moves the keys of the removed shards (m..n-1) to the
// remaining ones. So a shard number names the same shard in both layouts,
// and the sources and targets follow from From and To alone.
type Resize struct {
	// ID is the topology version that started the resize.
	ID    uint64 `json:"id"`
	From  int    `json:"from"`
	To    int    `json:"to"`
	Phase string `json:"phase"`
	// Placement is the layout the keyspace does not route by: in PhaseCopy
	// the new one (To shards), in PhaseSwitched the old one (From shards),
	// whose removed shards keep publishing their change logs until the end.
	Placement [][]string `json:"placement"`
	// Epochs are the shard epochs of that layout (see Keyspace.ShardEpoch).
	Epochs []uint64 `json:"epochs,omitempty"`
	// Switched is the topology version that switched the layout (0 before).
	Switched uint64 `json:"switched,omitempty"`
	// Started is when the master started the resize (Unix ns).
	Started int64 `json:"started"`
}

// Sources lists the shards (of the From layout) whose keys may move.
func (r *Resize) Sources() []uint32 {
	if r.To > r.From {
		return seq(0, r.From)
	}
	return seq(r.To, r.From)
}

// Targets lists the shards (of the To layout) that receive keys.
func (r *Resize) Targets() []uint32 {
	if r.To > r.From {
		return seq(r.From, r.To)
	}
	return seq(0, r.To)
}

// IsTarget reports whether shard receives keys.
func (r *Resize) IsTarget(shard uint32) bool {
	if r.To > r.From {
		return int(shard) >= r.From && int(shard) < r.To
	}
	return int(shard) < r.To
}

// NewPlacement returns the placement of the To layout.
func (r *Resize) NewPlacement(ks *Keyspace) [][]string {
	if r.Phase == PhaseCopy {
		return r.Placement
	}
	return ks.Placement
}

func seq(from, to int) []uint32 {
	out := make([]uint32, 0, max(to-from, 0))
	for i := from; i < to; i++ {
		out = append(out, uint32(i))
	}
	return out
}

// Move takes one replica of a shard from one store to another. The new
// replica is added to the shard's placement (last, so it takes no writes)
// and fills itself from its peers like any new replica; once it reports the
// shard as served, it takes the old replica's place and the old one is
// removed. A move whose old replica is down replaces it at once.
type Move struct {
	Keyspace string `json:"keyspace"`
	Shard    uint32 `json:"shard"`
	From     string `json:"from"`
	To       string `json:"to"`
	// Op is the ID of the operation the move belongs to.
	Op uint64 `json:"op"`
}

// String formats ks/shard from -> to.
func (m *Move) String() string {
	return fmt.Sprintf("%s/%d %s -> %s", m.Keyspace, m.Shard, m.From, m.To)
}

// Operation kinds.
const (
	OpKindResize    = "resize"
	OpKindReplace   = "replace"
	OpKindDrain     = "drain"
	OpKindRebalance = "rebalance"
)

// Operation states.
const (
	OpRunning   = "running"
	OpDone      = "done"
	OpCancelled = "cancelled"
)

// Operation is an online operation, running or recently finished, as
// operators see it.
type Operation struct {
	// ID is the topology version that started it.
	ID       uint64 `json:"id"`
	Kind     string `json:"kind"`
	Keyspace string `json:"keyspace,omitempty"`
	// Store is the store replaced or drained; Target the replacement.
	Store  string `json:"store,omitempty"`
	Target string `json:"target,omitempty"`
	State  string `json:"state"`
	// Detail says what the operation does or did, in words.
	Detail string `json:"detail,omitempty"`
	// Moves is how many replica moves the operation started with.
	Moves    int   `json:"moves,omitempty"`
	Started  int64 `json:"started"`
	Finished int64 `json:"finished,omitempty"`
}

// MaxFinishedOps bounds the finished operations a topology keeps.
const MaxFinishedOps = 16

// Operation returns the operation with id, or nil.
func (t *Topology) Operation(id uint64) *Operation {
	for _, op := range t.Ops {
		if op.ID == id {
			return op
		}
	}
	return nil
}

// MovesOf returns the moves of keyspace name.
func (t *Topology) MovesOf(name string) []*Move {
	var out []*Move
	for _, m := range t.Moves {
		if m.Keyspace == name {
			out = append(out, m)
		}
	}
	return out
}

// Busy reports whether keyspace name has an operation running (a resize or
// replica moves).
func (t *Topology) Busy(name string) bool {
	ks, ok := t.Keyspaces[name]
	return ok && ks.Resize != nil || len(t.MovesOf(name)) > 0
}

// ShardEpoch returns the epoch of shard i: the version that created it (the
// keyspace's epoch, or the resize that added the shard). A store holding a
// shard directory of another epoch (left from an earlier layout) drops it
// before using the shard. Shards beyond the routed layout are looked up in
// the resize's other layout.
func (k *Keyspace) ShardEpoch(i uint32) uint64 {
	if int(i) < k.Shards {
		return epochAt(k.ShardEpochs, i, k.Epoch)
	}
	if k.Resize != nil {
		return epochAt(k.Resize.Epochs, i, k.Epoch)
	}
	return k.Epoch
}

func epochAt(epochs []uint64, i uint32, def uint64) uint64 {
	if int(i) < len(epochs) && epochs[i] > def {
		return epochs[i]
	}
	return def
}

// Progress of one target shard replica filling during a resize, as a store
// reports it in its heartbeat.
const (
	FillCopying = "copying" // copying from the source shards
	FillTailing = "tailing" // copied; applying the sources' change logs
	FillDrained = "drained" // after the switch: every source fenced and drained
)

// Fill is one target shard replica's progress in a resize.
type Fill struct {
	// Shard is "keyspace/shard".
	Shard string `json:"shard"`
	// Resize is the ID of the resize.
	Resize uint64 `json:"resize"`
	Phase  string `json:"phase"`
	// Keys and Bytes copied so far (keys plus values).
	Keys  uint64 `json:"keys"`
	Bytes uint64 `json:"bytes"`
	// Error is the last error the fill met, if it is retrying.
	Error string `json:"error,omitempty"`
}
