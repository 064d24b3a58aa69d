package topology

import "time"

// Heartbeat is what a store publishes on the DC's heartbeat subject every
// HeartbeatInterval. The master learns stores and their health from it.
type Heartbeat struct {
	Store string `json:"store"`
	// Addr is the store's RESP address as clients should dial it.
	Addr string `json:"addr"`
	// Serving lists the shards ("ks/shard") the store holds and has caught
	// up on, so it may serve reads of them.
	Serving []string `json:"serving,omitempty"`
	// Holding lists every shard the store holds, caught up or not.
	Holding []string `json:"holding,omitempty"`
	// Held describes every shard the store holds on disk with its
	// incarnation and layout, placed here or not: what a master rebuilds a
	// lost topology from. It is sent when HeldFull is set: every fourth
	// heartbeat and whenever the set of shards held changes; the master
	// keeps the last full list in between.
	Held []HeldShard `json:"held,omitempty"`
	// HeldFull says Held is the complete list (possibly empty).
	HeldFull bool `json:"held_full,omitempty"`
	// Seq increases with every heartbeat of one store process.
	Seq uint64 `json:"seq"`
	// Version is the topology version the store acts on.
	Version uint64 `json:"version,omitempty"`
	// Fills reports the resize target shards the store is filling.
	Fills []Fill `json:"fills,omitempty"`
	// Sizes estimates the keys and bytes of each shard held ("ks/shard"),
	// for resize plans.
	Sizes map[string]ShardSize `json:"sizes,omitempty"`
	// ReadOnly maps the shards ("ks/shard") that refuse writes since a
	// write to their database failed (a full disk) to the reason, at most
	// MaxReadOnlyReason bytes. They still serve reads.
	ReadOnly map[string]string `json:"read_only,omitempty"`
	// RemoteDCs are the remote DCs the store applies the changes of: its
	// configuration until the topology manages them. The master seeds the
	// topology's list from them (see OpAddDC).
	RemoteDCs []string `json:"remote_dcs,omitempty"`
}

// MaxReadOnlyReason bounds the reason a store gives for a read-only shard.
const MaxReadOnlyReason = 256

// ShardSize estimates a shard's size.
type ShardSize struct {
	Keys  uint64 `json:"keys"`
	Bytes uint64 `json:"bytes"`
}

// Heartbeat timing: stores beat every HeartbeatInterval; the master declares
// a store dead after DeadAfter without a beat (so within 2 s).
const (
	HeartbeatInterval = 250 * time.Millisecond
	DeadAfter         = 1500 * time.Millisecond
)

// Admin operations, sent as requests to bus.AdminSubject(dc, op).
const (
	OpCreateKeyspace   = "keyspace-create"
	OpDeleteKeyspace   = "keyspace-delete"
	OpListKeyspaces    = "keyspace-list"
	OpDescribeKeyspace = "keyspace-describe"
	OpListStores       = "store-list"
	OpResizeKeyspace   = "keyspace-resize"
	OpCancelResize     = "keyspace-resize-cancel"
	OpRebalance        = "keyspace-rebalance"
	OpReplaceStore     = "store-replace"
	OpDrainStore       = "store-drain"
	OpGetOperation     = "op-get"
	OpRecoverKeyspaces = "keyspace-recover"
	OpAddDC            = "dc-add"
	OpRemoveDC         = "dc-remove"
	OpListDCs          = "dc-list"
)

// DCRequest names a remote DC to add to or remove from the DC's list
// (Topology.RemoteDCs). The first add or remove seeds the list from the
// remote DCs the stores report in their heartbeats; until every healthy
// store has reported since the master started, it is answered CodeBusy
// (try again).
type DCRequest struct {
	Name string `json:"name"`
}

// DCListReply is the DC's list of remote DCs. Managed false: the master does
// not manage it yet, and Reported is what the stores are configured with.
type DCListReply struct {
	DC        string   `json:"dc"`
	RemoteDCs []string `json:"remote_dcs"`
	Managed   bool     `json:"managed"`
	// Reported maps each store heard from since the master started to the
	// remote DCs it applies.
	Reported map[string][]string `json:"reported,omitempty"`
	Version  uint64              `json:"version"`
}

// RecoverRequest asks the master to rebuild keyspaces the topology does not
// know from the shards the stores report holding (after the topology was
// lost). Names empty: every recoverable keyspace. With DryRun the master
// only says what it would recover.
type RecoverRequest struct {
	Names  []string `json:"names,omitempty"`
	DryRun bool     `json:"dry_run,omitempty"`
}

// RecoverReply lists the keyspaces recovered (or that would be, DryRun) and
// those that cannot be, with the reason.
type RecoverReply struct {
	Recovered []*Keyspace       `json:"recovered"`
	Refused   map[string]string `json:"refused,omitempty"`
	Version   uint64            `json:"version"`
}

// ResizeRequest asks to change a keyspace's number of shards. With DryRun
// the master only returns the plan.
type ResizeRequest struct {
	Name   string `json:"name"`
	Shards int    `json:"shards"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// ReplaceRequest asks to move every shard replica of Store to Target. With
// an empty Target (drain) each replica goes to the least loaded healthy
// store that does not hold the shard.
type ReplaceRequest struct {
	Store  string `json:"store"`
	Target string `json:"target,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// RebalanceRequest asks to even out the placement of a keyspace.
type RebalanceRequest struct {
	Name   string `json:"name"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// OpRequest names an operation.
type OpRequest struct {
	ID uint64 `json:"id"`
}

// PlanStep is one movement of data a plan foresees: keys of a source shard
// (on its stores) going to a target shard (on its stores), or one replica
// moving. Keys and Bytes are estimates from the stores' reports.
type PlanStep struct {
	Keyspace    string   `json:"keyspace"`
	FromShard   uint32   `json:"from_shard"`
	ToShard     uint32   `json:"to_shard"`
	FromStores  []string `json:"from_stores"`
	ToStores    []string `json:"to_stores"`
	Keys        uint64   `json:"keys"`
	Bytes       uint64   `json:"bytes"`
	Description string   `json:"description"`
}

// Plan is what an operation will do.
type Plan struct {
	Created []uint32   `json:"created,omitempty"` // shards added
	Removed []uint32   `json:"removed,omitempty"` // shards removed
	Steps   []PlanStep `json:"steps"`
	Keys    uint64     `json:"keys"`
	Bytes   uint64     `json:"bytes"`
}

// Progress is how far a running operation got.
type Progress struct {
	Phase string `json:"phase"`
	// Done and Total count the units of work: target shard replicas of a
	// resize, replica moves.
	Done  int `json:"done"`
	Total int `json:"total"`
	// Keys and Bytes copied so far (resize).
	Keys  uint64 `json:"keys"`
	Bytes uint64 `json:"bytes"`
	// Waiting says what the operation waits for, if it is stuck.
	Waiting []string `json:"waiting,omitempty"`
}

// OpReply describes an operation: started, planned (dry run) or looked up.
type OpReply struct {
	Operation *Operation `json:"operation,omitempty"`
	Plan      *Plan      `json:"plan,omitempty"`
	Progress  *Progress  `json:"progress,omitempty"`
	Moves     []*Move    `json:"moves,omitempty"`
	Version   uint64     `json:"version"`
}

// CreateKeyspaceRequest asks the master to create a keyspace.
type CreateKeyspaceRequest struct {
	Name     string `json:"name"`
	Shards   int    `json:"shards"`
	Replicas int    `json:"replicas"`
	// Ack is the keyspace's default acknowledgement level (Keyspace.Ack).
	Ack string `json:"ack,omitempty"`
}

// NameRequest names a keyspace (delete, describe).
type NameRequest struct {
	Name string `json:"name"`
	// Epoch, for a delete, names an incarnation of the keyspace that the
	// topology does not hold but stores still do (see Store.Unplaced):
	// recording it deleted makes the stores drop those shards. 0: the
	// keyspace in the topology.
	Epoch uint64 `json:"epoch,omitempty"`
}

// KeyspaceReply describes one keyspace with the stores that hold it.
type KeyspaceReply struct {
	Keyspace *Keyspace        `json:"keyspace"`
	Stores   map[string]Store `json:"stores"`
	Version  uint64           `json:"version"`
	// Ops are the keyspace's operations, running or recently finished, with
	// the progress of the running one.
	Ops      []*Operation `json:"ops,omitempty"`
	Progress *Progress    `json:"progress,omitempty"`
	Moves    []*Move      `json:"moves,omitempty"`
}

// ListKeyspacesReply lists keyspaces.
type ListKeyspacesReply struct {
	Keyspaces []*Keyspace `json:"keyspaces"`
	Version   uint64      `json:"version"`
}

// ListStoresReply lists stores.
type ListStoresReply struct {
	Stores  []Store `json:"stores"`
	Version uint64  `json:"version"`
}

// MaxShards and MaxReplicas bound a keyspace.
const (
	MaxShards   = 1024
	MaxReplicas = 7
)

// Error codes at the start of an admin error reply ("CODE: message"), stable
// so clients can map them to typed errors.
const (
	CodeBadName        = "BADNAME"  // a name that is not 1-64 of [A-Za-z0-9_-]
	CodeExists         = "EXISTS"   // keyspace name taken
	CodeUnknown        = "UNKNOWN"  // no such keyspace
	CodeNotEnoughStore = "NOSTORES" // fewer healthy stores than replicas
	CodeInvalid        = "INVALID"  // bad shard or replica count, malformed request
	CodeInternal       = "INTERNAL" // the master failed (e.g. could not publish)
	CodeBusy           = "BUSY"     // another operation on the keyspace or store is running
	CodeNotFound       = "NOTFOUND" // no such store, operation or remote DC
)
