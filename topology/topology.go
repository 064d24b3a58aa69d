package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cespare/xxhash/v2"

	"github.com/vasto-kv/vasto/lww"
)

// Sentinel errors.
var (
	// ErrBadName is returned for a keyspace, DC or store name that is not 1-64
	// of [A-Za-z0-9_-]: such a name could inject into a NATS subject.
	ErrBadName = errors.New("topology: bad name")
	// ErrUnknownKeyspace is returned for a keyspace not in the topology.
	ErrUnknownKeyspace = errors.New("topology: unknown keyspace")
	// ErrCorrupt is returned when a topology document cannot be decoded.
	ErrCorrupt = errors.New("topology: corrupt document")
	// ErrBadRemoteDCs is returned for a list of remote DCs that names the
	// local DC, is not sorted, repeats a DC or is too long.
	ErrBadRemoteDCs = errors.New("topology: bad remote DCs")
)

// Store is one store as the master sees it.
type Store struct {
	ID string `json:"id"`
	// Addr is the store's RESP address, host:port.
	Addr string `json:"addr"`
	// Healthy is false once the store missed its heartbeats.
	Healthy bool `json:"healthy"`
	// Shards the store reports it holds and serves ("ks/shard").
	Serving []string `json:"serving,omitempty"`
	// Unplaced lists the shards the store holds on disk that this topology
	// does not place there ("ks/shard@epoch"): kept, never deleted because
	// of it; see Topology.Deleted and `vasto keyspace recover`.
	Unplaced []string `json:"unplaced,omitempty"`
	// ReadOnly maps the shards ("ks/shard") the store reports refusing
	// writes to why (see Heartbeat.ReadOnly); writes go to other replicas.
	ReadOnly map[string]string `json:"read_only,omitempty"`
}

// Keyspace is one keyspace: its shard count and where each shard lives.
type Keyspace struct {
	Name     string `json:"name"`
	Shards   int    `json:"shards"`
	Replicas int    `json:"replicas"`
	// Placement[i] lists the stores that hold shard i, preferred first.
	Placement [][]string `json:"placement"`
	// Epoch is the topology version that created this incarnation of the
	// keyspace. A keyspace deleted and created again under the same name
	// has a new epoch, so stores and clients never mix the two.
	Epoch uint64 `json:"epoch,omitempty"`
	// ShardEpochs, when set, gives shards added by a resize their own epoch
	// (see ShardEpoch).
	ShardEpochs []uint64 `json:"shard_epochs,omitempty"`
	// Resize is the change of shard count in progress, if any.
	Resize *Resize `json:"resize,omitempty"`
	// Ack is the acknowledgement level clients ask for on writes that
	// name none (wire.AckLocal, wire.AckPublished); empty: local.
	Ack string `json:"ack,omitempty"`
}

// Topology is the map of one DC. Version grows with every change.
type Topology struct {
	DC string `json:"dc"`
	// ID names this incarnation of the DC's topology. It is drawn when a
	// master finds no topology at all; a different ID means the topology
	// was lost and rebuilt (for example NATS's data was wiped), and stores
	// then never delete data because of it.
	ID        string               `json:"id,omitempty"`
	Version   uint64               `json:"version"`
	Stores    map[string]*Store    `json:"stores"`
	Keyspaces map[string]*Keyspace `json:"keyspaces"`
	// Moves are the shard replica moves in progress.
	Moves []*Move `json:"moves,omitempty"`
	// Ops are the online operations running or recently finished, oldest
	// first.
	Ops []*Operation `json:"ops,omitempty"`
	// Deleted are the deleted keyspace incarnations, oldest first (at most
	// MaxDeleted): the only reason a store deletes a keyspace's shards.
	Deleted []Deleted `json:"deleted,omitempty"`
	// RemoteDCs are the other DCs this DC replicates with, sorted, once the
	// master manages them (RemoteDCsManaged): every store applies their
	// changes and follows additions and removals live. Until then each
	// store applies the remote DCs of its own configuration.
	RemoteDCs []string `json:"remote_dcs,omitempty"`
	// RemoteDCsManaged says RemoteDCs is the DC's list (set by the first
	// `vasto dc add` or `dc remove`); false: the stores' configuration.
	RemoteDCsManaged bool `json:"remote_dcs_managed,omitempty"`
}

// MaxRemoteDCs bounds the remote DCs of a topology.
const MaxRemoteDCs = 64

// CheckRemoteDCs reports why dcs cannot be the remote DCs of local: each
// must be a valid name (ErrBadName: it could inject into a NATS subject),
// not local, listed once, in order, and at most MaxRemoteDCs of them.
func CheckRemoteDCs(local string, dcs []string) error {
	if len(dcs) > MaxRemoteDCs {
		return fmt.Errorf("%w: %d remote DCs, at most %d", ErrBadRemoteDCs, len(dcs), MaxRemoteDCs)
	}
	for i, d := range dcs {
		if err := CheckName("dc", d); err != nil {
			return err
		}
		switch {
		case d == local:
			return fmt.Errorf("%w: %q is the local DC", ErrBadRemoteDCs, d)
		case i > 0 && dcs[i-1] >= d:
			return fmt.Errorf("%w: %v not sorted or listing a DC twice", ErrBadRemoteDCs, dcs)
		}
	}
	return nil
}

// Remotes returns the remote DCs the stores of t's DC apply: RemoteDCs when
// the master manages them, else configured (a store's own list).
func (t *Topology) Remotes(configured []string) []string {
	if t != nil && t.RemoteDCsManaged {
		return slices.Clone(t.RemoteDCs)
	}
	return slices.Clone(configured)
}

// New returns an empty topology of dc.
func New(dc string) *Topology {
	return &Topology{DC: dc, Stores: map[string]*Store{}, Keyspaces: map[string]*Keyspace{}}
}

// Encode returns the JSON document published on the bus.
func (t *Topology) Encode() ([]byte, error) { return json.Marshal(t) }

// Decode parses a published topology document.
func Decode(b []byte) (*Topology, error) {
	t := New("")
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if t.Stores == nil {
		t.Stores = map[string]*Store{}
	}
	if t.Keyspaces == nil {
		t.Keyspaces = map[string]*Keyspace{}
	}
	if err := CheckRemoteDCs(t.DC, t.RemoteDCs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	for name, ks := range t.Keyspaces {
		if ks == nil || ks.Name != name || ks.Shards <= 0 || len(ks.Placement) != ks.Shards {
			return nil, fmt.Errorf("%w: keyspace %q inconsistent", ErrCorrupt, name)
		}
		if r := ks.Resize; r != nil && (r.From <= 0 || r.To <= 0 || r.From == r.To ||
			(r.Phase == PhaseCopy && (len(r.Placement) != r.To || ks.Shards != r.From)) ||
			(r.Phase == PhaseSwitched && (len(r.Placement) != r.From || ks.Shards != r.To)) ||
			(r.Phase != PhaseCopy && r.Phase != PhaseSwitched)) {
			return nil, fmt.Errorf("%w: keyspace %q: inconsistent resize", ErrCorrupt, name)
		}
	}
	return t, nil
}

// Clone returns a deep copy.
func (t *Topology) Clone() *Topology {
	b, err := t.Encode()
	if err != nil {
		panic(err) // cannot happen: every field marshals
	}
	c, err := Decode(b)
	if err != nil {
		panic(err)
	}
	return c
}

// Keyspace returns a keyspace or ErrUnknownKeyspace.
func (t *Topology) Keyspace(name string) (*Keyspace, error) {
	ks, ok := t.Keyspaces[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKeyspace, name)
	}
	return ks, nil
}

// KeyspaceNames lists the keyspaces in order.
func (t *Topology) KeyspaceNames() []string {
	names := make([]string, 0, len(t.Keyspaces))
	for n := range t.Keyspaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// StoreIDs lists the stores in order.
func (t *Topology) StoreIDs() []string {
	ids := make([]string, 0, len(t.Stores))
	for id := range t.Stores {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ShardsOf lists the shards placed on store as (keyspace, shard) pairs.
func (t *Topology) ShardsOf(store string) []ShardRef {
	var out []ShardRef
	for _, name := range t.KeyspaceNames() {
		for i, reps := range t.Keyspaces[name].Placement {
			if slices.Contains(reps, store) {
				out = append(out, ShardRef{Keyspace: name, Shard: uint32(i)})
			}
		}
	}
	return out
}

// ShardRef names one shard.
type ShardRef struct {
	Keyspace string
	Shard    uint32
}

// String formats ks/shard.
func (r ShardRef) String() string { return fmt.Sprintf("%s/%d", r.Keyspace, r.Shard) }

// ValidName reports whether s may name a keyspace, DC or store.
func ValidName(s string) bool { return lww.ValidName(s) }

// CheckName returns ErrBadName for a name that is not valid.
func CheckName(kind, s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%w: %s %q: use 1-64 of A-Z a-z 0-9 - _", ErrBadName, kind, s)
	}
	return nil
}

// KeyHash is the 64-bit hash of a key that placement uses.
func KeyHash(key []byte) uint64 { return xxhash.Sum64(key) }

// JumpHash maps a 64-bit hash to a bucket in [0, n) (Lamping and Veach's
// jump consistent hash): growing n moves only 1/n of the keys.
func JumpHash(h uint64, n int) int {
	if n <= 0 {
		return 0
	}
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		h = h*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((h>>33)+1)))
	}
	return int(b)
}

// ShardOf returns the shard of key in a keyspace of n shards.
func ShardOf(key []byte, n int) uint32 { return uint32(JumpHash(KeyHash(key), n)) }
