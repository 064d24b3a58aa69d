package client

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// KeyspaceOption tunes CreateKeyspace.
type KeyspaceOption func(*topology.CreateKeyspaceRequest)

// WithDefaultAck makes level the acknowledgement level of the keyspace's
// writes that ask for none (WithAck): every client applies it.
func WithDefaultAck(level AckLevel) KeyspaceOption {
	return func(r *topology.CreateKeyspaceRequest) { r.Ack = string(level) }
}

// KeyspaceInfo describes a keyspace.
type KeyspaceInfo struct {
	Name     string
	Shards   int
	Replicas int
	// Ack is the acknowledgement level of writes that ask for none.
	Ack AckLevel
	// Placement[i] describes shard i: its replicas, preferred first.
	Placement []ShardInfo
	// Version is the topology version the master answered from.
	Version uint64
	// Resize is the change of the number of shards in progress, if any
	// (Shards and Placement are the layout clients route by: the old one
	// until the resize switches, then the new one).
	Resize *topology.Resize
	// Ops are the keyspace's online operations, running or recently
	// finished, oldest first; Progress is the running one's; Moves are the
	// replica moves in progress. DescribeKeyspace fills them in.
	Ops      []*topology.Operation
	Progress *topology.Progress
	Moves    []*topology.Move
}

// ShardInfo describes one shard of a keyspace.
type ShardInfo struct {
	Shard    uint32
	Replicas []ReplicaInfo
}

// ReplicaInfo describes one replica of a shard. ListKeyspaces fills in only
// Store; DescribeKeyspace fills in every field.
type ReplicaInfo struct {
	// Store is the store's id, Addr its RESP address.
	Store, Addr string
	// Healthy is false once the store missed its heartbeats.
	Healthy bool
	// Serving is true when the store reports the shard caught up.
	Serving bool
}

// StoreInfo describes a store.
type StoreInfo struct {
	ID, Addr string
	Healthy  bool
	// Serving lists the shards ("keyspace/shard") the store serves.
	Serving []string
	// Unplaced lists the shards ("keyspace/shard@epoch") the store holds on
	// disk whose incarnation the topology does not know: kept, never
	// deleted because of it (see RecoverKeyspaces, DiscardIncarnation).
	Unplaced []string
	// ReadOnly maps the shards ("keyspace/shard") that refuse writes since
	// a write to their database failed (a full disk) to the reason.
	ReadOnly map[string]string
}

// request sends an admin request to the DC's master and decodes the reply.
func (c *Client) request(ctx context.Context, op string, req, reply any) error {
	if c.isClosed() {
		return ErrClosed
	}
	subj, err := bus.AdminSubject(c.cfg.DC, op)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadName, err)
	}
	data := []byte("{}")
	if req != nil {
		if data, err = json.Marshal(req); err != nil {
			return fmt.Errorf("client: %s: %w", op, err)
		}
	}
	out, err := c.conn.Request(ctx, subj, data)
	if err != nil {
		return mapAdminError(op, c.cfg.DC, err)
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(out, reply); err != nil {
		return fmt.Errorf("client: %s: bad reply from the master: %w", op, err)
	}
	return nil
}

// CreateKeyspace asks the DC's master to create a keyspace of shards shards
// (1..topology.MaxShards), each on replicas stores (1..MaxReplicas), and
// waits until the keyspace is in the local topology (or ctx ends).
// Names are checked locally (ErrBadName); the master answers
// ErrKeyspaceExists, ErrNotEnoughStores or ErrInvalid. Options:
// WithDefaultAck.
func (c *Client) CreateKeyspace(ctx context.Context, name string, shards, replicas int, opts ...KeyspaceOption) error {
	if err := checkKeyspace(name); err != nil {
		return err
	}
	if shards < 1 || shards > topology.MaxShards {
		return fmt.Errorf("%w: %d shards, want 1..%d", ErrInvalid, shards, topology.MaxShards)
	}
	if replicas < 1 || replicas > topology.MaxReplicas {
		return fmt.Errorf("%w: %d replicas, want 1..%d", ErrInvalid, replicas, topology.MaxReplicas)
	}
	req := topology.CreateKeyspaceRequest{Name: name, Shards: shards, Replicas: replicas}
	for _, o := range opts {
		if o != nil {
			o(&req)
		}
	}
	if req.Ack != "" && !slices.Contains(wire.AckLevels, req.Ack) {
		return fmt.Errorf("%w: acknowledgement level %q (want one of %s)", ErrInvalid, req.Ack, strings.Join(wire.AckLevels, ", "))
	}
	if err := c.request(ctx, topology.OpCreateKeyspace, req, nil); err != nil {
		return err
	}
	return c.WaitForKeyspace(ctx, name)
}

// DeleteKeyspace asks the DC's master to delete a keyspace and waits until
// it is gone from the local topology (or ctx ends).
func (c *Client) DeleteKeyspace(ctx context.Context, name string) error {
	if err := checkKeyspace(name); err != nil {
		return err
	}
	if err := c.request(ctx, topology.OpDeleteKeyspace, topology.NameRequest{Name: name}, nil); err != nil {
		return err
	}
	return c.waitFor(ctx, func(t *topology.Topology) bool {
		_, ok := t.Keyspaces[name]
		return !ok
	}, "the deletion of keyspace "+name)
}

// RecoverKeyspaces asks the master to rebuild keyspaces the topology does
// not know (it was lost: NATS's data wiped) from the shards the stores
// hold, keeping their incarnation and placement; names empty: every one it
// can. With dryRun it only says what it would recover. The reply lists what
// was recovered and, per name, why a keyspace was not.
func (c *Client) RecoverKeyspaces(ctx context.Context, names []string, dryRun bool) (topology.RecoverReply, error) {
	for _, n := range names {
		if err := checkKeyspace(n); err != nil {
			return topology.RecoverReply{}, err
		}
	}
	var r topology.RecoverReply
	if err := c.request(ctx, topology.OpRecoverKeyspaces, topology.RecoverRequest{Names: names, DryRun: dryRun}, &r); err != nil {
		return topology.RecoverReply{}, err
	}
	if dryRun || len(r.Recovered) == 0 {
		return r, nil
	}
	return r, c.waitFor(ctx, func(t *topology.Topology) bool { return t.Version >= r.Version },
		"the recovered keyspaces")
}

// DiscardIncarnation asks the master to record incarnation epoch of
// keyspace name, which stores hold but the topology does not place, as
// deleted: the stores then delete those shards. It is the explicit way to
// get rid of data the topology lost track of; the keyspace the topology
// places is deleted with DeleteKeyspace.
func (c *Client) DiscardIncarnation(ctx context.Context, name string, epoch uint64) error {
	if err := checkKeyspace(name); err != nil {
		return err
	}
	if epoch == 0 {
		return fmt.Errorf("%w: epoch 0", ErrInvalid)
	}
	return c.request(ctx, topology.OpDeleteKeyspace, topology.NameRequest{Name: name, Epoch: epoch}, nil)
}

// ListKeyspaces asks the master for every keyspace, ordered by name. The
// replicas carry store ids only: DescribeKeyspace adds addresses and health.
func (c *Client) ListKeyspaces(ctx context.Context) ([]KeyspaceInfo, error) {
	var r topology.ListKeyspacesReply
	if err := c.request(ctx, topology.OpListKeyspaces, nil, &r); err != nil {
		return nil, err
	}
	out := make([]KeyspaceInfo, 0, len(r.Keyspaces))
	for _, ks := range r.Keyspaces {
		if ks != nil {
			out = append(out, keyspaceInfo(ks, nil, r.Version))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DescribeKeyspace asks the master for a keyspace with the address, health
// and serving state of every replica, and its online operations.
func (c *Client) DescribeKeyspace(ctx context.Context, name string) (KeyspaceInfo, error) {
	if err := checkKeyspace(name); err != nil {
		return KeyspaceInfo{}, err
	}
	var r topology.KeyspaceReply
	if err := c.request(ctx, topology.OpDescribeKeyspace, topology.NameRequest{Name: name}, &r); err != nil {
		return KeyspaceInfo{}, err
	}
	if r.Keyspace == nil {
		return KeyspaceInfo{}, fmt.Errorf("client: %s: reply without keyspace", topology.OpDescribeKeyspace)
	}
	info := keyspaceInfo(r.Keyspace, r.Stores, r.Version)
	info.Ops, info.Progress, info.Moves = r.Ops, r.Progress, r.Moves
	return info, nil
}

// ListStores asks the master for every store of the DC, ordered by id.
func (c *Client) ListStores(ctx context.Context) ([]StoreInfo, error) {
	var r topology.ListStoresReply
	if err := c.request(ctx, topology.OpListStores, nil, &r); err != nil {
		return nil, err
	}
	out := make([]StoreInfo, 0, len(r.Stores))
	for _, s := range r.Stores {
		out = append(out, StoreInfo{ID: s.ID, Addr: s.Addr, Healthy: s.Healthy, Serving: s.Serving, Unplaced: s.Unplaced,
			ReadOnly: s.ReadOnly})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// keyspaceInfo converts a keyspace, with the stores that hold it when known.
func keyspaceInfo(ks *topology.Keyspace, stores map[string]topology.Store, version uint64) KeyspaceInfo {
	info := KeyspaceInfo{Name: ks.Name, Shards: ks.Shards, Replicas: ks.Replicas, Version: version, Ack: AckLevel(cmp.Or(ks.Ack, wire.AckLocal)),
		Resize: ks.Resize, Placement: make([]ShardInfo, len(ks.Placement))}
	for i, reps := range ks.Placement {
		si := ShardInfo{Shard: uint32(i), Replicas: make([]ReplicaInfo, len(reps))}
		for j, id := range reps {
			ri := ReplicaInfo{Store: id}
			if s, ok := stores[id]; ok {
				ri.Addr, ri.Healthy = s.Addr, s.Healthy
				ri.Serving = serves(&s, ks.Name, uint32(i))
			}
			si.Replicas[j] = ri
		}
		info.Placement[i] = si
	}
	return info
}
