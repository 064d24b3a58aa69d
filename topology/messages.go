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
	// Seq increases with every heartbeat of one store process.
	Seq uint64 `json:"seq"`
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
)

// CreateKeyspaceRequest asks the master to create a keyspace.
type CreateKeyspaceRequest struct {
	Name     string `json:"name"`
	Shards   int    `json:"shards"`
	Replicas int    `json:"replicas"`
}

// NameRequest names a keyspace (delete, describe).
type NameRequest struct {
	Name string `json:"name"`
}

// KeyspaceReply describes one keyspace with the stores that hold it.
type KeyspaceReply struct {
	Keyspace *Keyspace        `json:"keyspace"`
	Stores   map[string]Store `json:"stores"`
	Version  uint64           `json:"version"`
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
)
