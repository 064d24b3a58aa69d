package master

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Heartbeat bounds checked by CheckHeartbeat.
const (
	// MaxAddrLen bounds a store's advertised address.
	MaxAddrLen = 255
	// MaxServing bounds how many shards one heartbeat may list as serving.
	MaxServing = 16384
)

// maxEvents bounds the events kept for the master to log; older ones are
// dropped if nobody takes them.
const maxEvents = 1024

// State is the master's deterministic core: the topology of one DC and the
// time each store was last heard from. It does no I/O and never reads a
// clock: every method that needs the time is given now (nanoseconds since
// the Unix epoch), so the same calls always give the same topology.
//
// Every method that changes the topology increases its Version by exactly
// one, whatever it changed (a Tick that marks three stores dead is one
// change); a call that changes nothing leaves the version alone. The version
// never decreases, also across Rebase.
//
// A State is not safe for concurrent use.
type State struct {
	topo     *topology.Topology
	lastSeen map[string]int64
	events   []event
	reports  map[string]*report // the latest heartbeat of each store
	// unplacedSince is, per keyspace the topology does not know, when the
	// shards stores hold of it last changed (AutoRecover).
	unplacedSince map[string]since
}

// eventKind says what happened to a store, for the master's logs.
type eventKind uint8

const (
	evJoined   eventKind = iota + 1 // first heartbeat of an unknown store
	evUp                            // an unhealthy store beat again
	evDown                          // a store missed its heartbeats
	evMoved                         // a store beat from a new address
	evResize                        // a resize switched layouts (store: keyspace)
	evMoveDone                      // a replica move completed (addr: the move)
	evOpDone                        // an operation finished (store: kind, addr: detail)
	evRetired                       // a replaced store that is down left the topology
)

type event struct {
	kind  eventKind
	store string
	addr  string
	// silent is how long the store had not beaten (evDown), in ns.
	silent int64
}

// NewState returns a State holding a copy of t, typically the topology read
// back from the bus when a master starts. It keeps t's version, keyspaces
// and stores as they are (healthy stores stay healthy) and treats every
// known store as last heard from at now: a restarted master gives each store
// a full DeadAfter to beat again instead of declaring them all dead at once.
// It returns an error wrapping topology.ErrCorrupt if t is nil or not
// consistent.
func NewState(t *topology.Topology, now int64) (*State, error) {
	if err := validate(t); err != nil {
		return nil, err
	}
	s := &State{topo: clone(t), lastSeen: make(map[string]int64, len(t.Stores)), reports: map[string]*report{},
		unplacedSince: map[string]since{}}
	for id := range s.topo.Stores {
		s.lastSeen[id] = now
	}
	return s, nil
}

// Version returns the version of the topology.
func (s *State) Version() uint64 { return s.topo.Version }

// Topology returns a deep copy of the topology.
func (s *State) Topology() *topology.Topology { return clone(s.topo) }

// CheckHeartbeat reports why hb is not acceptable: the store name must be a
// valid name, the address a host:port of at most MaxAddrLen bytes, and the
// serving list and the read-only shards at most MaxServing entries each of
// the form "keyspace/shard". It returns nil or an error wrapping
// ErrBadHeartbeat.
func CheckHeartbeat(hb topology.Heartbeat) error {
	if !topology.ValidName(hb.Store) {
		return fmt.Errorf("%w: store name %q", ErrBadHeartbeat, hb.Store)
	}
	if err := checkAddr(hb.Addr); err != nil {
		return fmt.Errorf("%w: store %s: address %q: %w", ErrBadHeartbeat, hb.Store, hb.Addr, err)
	}
	if len(hb.Serving) > MaxServing {
		return fmt.Errorf("%w: store %s: %d serving shards, at most %d", ErrBadHeartbeat, hb.Store, len(hb.Serving), MaxServing)
	}
	for _, sh := range hb.Serving {
		if !validShardRef(sh) {
			return fmt.Errorf("%w: store %s: serving entry %q is not keyspace/shard", ErrBadHeartbeat, hb.Store, sh)
		}
	}
	if err := checkHeld(hb); err != nil {
		return err
	}
	return checkReadOnly(hb)
}

// checkReadOnly bounds a heartbeat's read-only shards like its serving ones.
func checkReadOnly(hb topology.Heartbeat) error {
	if len(hb.ReadOnly) > MaxServing {
		return fmt.Errorf("%w: store %s: %d read-only shards, at most %d", ErrBadHeartbeat, hb.Store, len(hb.ReadOnly), MaxServing)
	}
	for sh := range hb.ReadOnly {
		if !validShardRef(sh) {
			return fmt.Errorf("%w: store %s: read-only entry %q is not keyspace/shard", ErrBadHeartbeat, hb.Store, sh)
		}
	}
	return nil
}

// normalizeReadOnly returns a copy with reasons cut to
// topology.MaxReadOnlyReason bytes, nil if empty.
func normalizeReadOnly(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for sh, why := range in {
		if len(why) > topology.MaxReadOnlyReason {
			why = why[:topology.MaxReadOnlyReason]
		}
		out[sh] = why
	}
	return out
}

func checkAddr(addr string) error {
	if addr == "" || len(addr) > MaxAddrLen {
		return fmt.Errorf("empty or longer than %d bytes", MaxAddrLen)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("missing host")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// validShardRef accepts "ks/N" with a valid keyspace name and a canonical
// decimal shard number below topology.MaxShards.
func validShardRef(s string) bool {
	ks, num, ok := strings.Cut(s, "/")
	if !ok || !topology.ValidName(ks) {
		return false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	return err == nil && n < topology.MaxShards && strconv.FormatUint(n, 10) == num
}

// OnHeartbeat records a heartbeat received at now. An unknown store is
// registered, healthy; a known one gets its address, serving and read-only
// shards updated and is marked healthy again. It reports whether the topology
// changed (a heartbeat that only proves the store alive does not change it).
// A heartbeat that CheckHeartbeat rejects is ignored.
func (s *State) OnHeartbeat(hb topology.Heartbeat, now int64) bool {
	if CheckHeartbeat(hb) != nil {
		return false
	}
	serving := normalizeServing(hb.Serving)
	readOnly := normalizeReadOnly(hb.ReadOnly)
	s.record(hb)
	st, ok := s.topo.Stores[hb.Store]
	if !ok {
		s.topo.Stores[hb.Store] = &topology.Store{ID: hb.Store, Addr: hb.Addr, Healthy: true, Serving: serving, ReadOnly: readOnly,
			Unplaced: s.unplacedOf(hb.Store)}
		s.lastSeen[hb.Store] = now
		s.emit(event{kind: evJoined, store: hb.Store, addr: hb.Addr})
		s.advance(now)
		s.bump()
		return true
	}
	if last, seen := s.lastSeen[hb.Store]; !seen || now > last {
		s.lastSeen[hb.Store] = now // never backwards, even if the clock is
	}
	changed := false
	if st.Addr != hb.Addr {
		st.Addr = hb.Addr
		s.emit(event{kind: evMoved, store: hb.Store, addr: hb.Addr})
		changed = true
	}
	if !st.Healthy {
		st.Healthy = true
		s.emit(event{kind: evUp, store: hb.Store, addr: hb.Addr})
		changed = true
	}
	if !slices.Equal(st.Serving, serving) {
		st.Serving = serving
		changed = true
	}
	if u := s.unplacedOf(hb.Store); !slices.Equal(st.Unplaced, u) {
		st.Unplaced = u
		changed = true
	}
	if !maps.Equal(st.ReadOnly, readOnly) {
		st.ReadOnly = readOnly
		changed = true
	}
	if s.advance(now) {
		changed = true
	}
	if changed {
		s.bump()
	}
	return changed
}

// normalizeServing returns a sorted copy without duplicates, nil if empty.
func normalizeServing(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// Resume gives every store a full topology.DeadAfter from now to beat
// again: the master calls it when its own connection to the bus comes back,
// since heartbeats sent while it was cut off never reached it and say
// nothing about the stores.
func (s *State) Resume(now int64) {
	for id, last := range s.lastSeen {
		if now > last {
			s.lastSeen[id] = now
		}
	}
}

// Tick marks unhealthy every healthy store not heard from for
// topology.DeadAfter or longer before now, and reports whether any was.
func (s *State) Tick(now int64) bool {
	var down []string
	for id, st := range s.topo.Stores {
		if st.Healthy && now-s.lastSeen[id] >= int64(topology.DeadAfter) {
			down = append(down, id)
		}
	}
	if len(down) == 0 {
		return false
	}
	sort.Strings(down)
	for _, id := range down {
		st := s.topo.Stores[id]
		st.Healthy = false
		s.emit(event{kind: evDown, store: id, addr: st.Addr, silent: now - s.lastSeen[id]})
	}
	s.bump()
	return true
}

// CreateKeyspace adds a keyspace and places its shards on the healthy
// stores with topology.Place, counting the shards each store already holds.
// Its epoch (incarnation) is the new version, raised first above every
// incarnation a store reports holding, so it never names data of another
// incarnation. Errors: topology.ErrBadName, ErrInvalidRequest (shards not
// in 1..topology.MaxShards or replicas not in 1..topology.MaxReplicas),
// ErrKeyspaceExists (also when stores hold data of an incarnation of the
// name that the topology does not know: recover or discard it first),
// topology.ErrNotEnoughStores (fewer healthy stores than replicas).
func (s *State) CreateKeyspace(req topology.CreateKeyspaceRequest) error {
	if err := topology.CheckName("keyspace", req.Name); err != nil {
		return err
	}
	if req.Shards < 1 || req.Shards > topology.MaxShards {
		return fmt.Errorf("%w: shards must be 1..%d, got %d", ErrInvalidRequest, topology.MaxShards, req.Shards)
	}
	if req.Replicas < 1 || req.Replicas > topology.MaxReplicas {
		return fmt.Errorf("%w: replicas must be 1..%d, got %d", ErrInvalidRequest, topology.MaxReplicas, req.Replicas)
	}
	if req.Ack != "" && !slices.Contains(wire.AckLevels, req.Ack) {
		return fmt.Errorf("%w: acknowledgement level %q, want one of %s", ErrInvalidRequest, req.Ack, strings.Join(wire.AckLevels, ", "))
	}
	if _, ok := s.topo.Keyspaces[req.Name]; ok {
		return fmt.Errorf("%w: %q", ErrKeyspaceExists, req.Name)
	}
	if err := s.heldIncarnation(req.Name); err != nil {
		return err
	}
	placement, err := topology.Place(s.healthyStores(), s.topo.Load(), req.Shards, req.Replicas)
	if err != nil {
		return err
	}
	s.raiseVersionAboveHeld()
	s.bump()
	s.topo.Keyspaces[req.Name] = &topology.Keyspace{
		Name:      req.Name,
		Shards:    req.Shards,
		Replicas:  req.Replicas,
		Placement: placement,
		Epoch:     s.topo.Version,
		Ack:       req.Ack,
	}
	return nil
}

// healthyStores lists the healthy stores in order.
func (s *State) healthyStores() []string {
	var ids []string
	for id, st := range s.topo.Stores {
		if st.Healthy {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// DeleteKeyspace removes a keyspace. Errors: topology.ErrBadName,
// topology.ErrUnknownKeyspace.
func (s *State) DeleteKeyspace(name string, now int64) error {
	if err := topology.CheckName("keyspace", name); err != nil {
		return err
	}
	if _, err := s.topo.Keyspace(name); err != nil {
		return err
	}
	ks := s.topo.Keyspaces[name]
	delete(s.topo.Keyspaces, name)
	s.bump()
	// The stores drop the shards of exactly these incarnations.
	s.topo.RecordDeleted(name, s.topo.Version, ks.Epochs()...)
	if ks.Resize != nil {
		s.finishOp(ks.Resize.ID, topology.OpCancelled, "keyspace deleted", now)
	}
	s.advanceMoves(now) // drops the keyspace's moves and ends their operations
	return nil
}

// Describe returns a copy of a keyspace with the stores that hold it.
// Errors: topology.ErrBadName, topology.ErrUnknownKeyspace.
func (s *State) Describe(name string) (topology.KeyspaceReply, error) {
	return describe(s.topo, name)
}

// List returns copies of every keyspace, in name order.
func (s *State) List() topology.ListKeyspacesReply { return listKeyspaces(s.topo) }

// Stores returns copies of every store, in ID order.
func (s *State) Stores() topology.ListStoresReply { return listStores(s.topo) }

// Rebase adopts remote, a topology another writer published over the one
// this state started from (found when a compare-and-set failed). The
// keyspaces become remote's; the stores stay as this state sees them (it
// hears their heartbeats), and stores only remote knows are adopted as they
// are, last heard from at now. The version becomes the higher of the two,
// plus one if the result differs from remote at remote's version, so
// Version() == remote.Version exactly when the result is remote. The caller
// re-applies its own keyspace operation afterwards. It returns an error
// wrapping topology.ErrCorrupt, and changes nothing, if remote is not
// consistent or belongs to another DC.
func (s *State) Rebase(remote *topology.Topology, now int64) error {
	if err := validate(remote); err != nil {
		return err
	}
	if remote.DC != s.topo.DC {
		return fmt.Errorf("%w: topology of dc %q, want %q", topology.ErrCorrupt, remote.DC, s.topo.DC)
	}
	base := clone(remote)
	for id, st := range s.topo.Stores {
		base.Stores[id] = st
	}
	for id := range base.Stores {
		if _, ok := s.lastSeen[id]; !ok {
			s.lastSeen[id] = now
		}
	}
	v := max(s.topo.Version, remote.Version)
	if v == remote.Version && !sameContent(base, remote) {
		v++
	}
	base.Version = v
	s.topo = base
	return nil
}

func (s *State) bump() { s.topo.Version++ }

func (s *State) emit(e event) {
	if len(s.events) >= maxEvents {
		s.events = slices.Delete(s.events, 0, len(s.events)-maxEvents+1)
	}
	s.events = append(s.events, e)
}

// takeEvents returns and forgets the events since the last call.
func (s *State) takeEvents() []event {
	ev := s.events
	s.events = nil
	return ev
}

// sameContent reports whether a and b are equal apart from the version.
func sameContent(a, b *topology.Topology) bool {
	ca, cb := *a, *b
	ca.Version, cb.Version = 0, 0
	ea, err1 := ca.Encode()
	eb, err2 := cb.Encode()
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

// validate checks that t is a topology this package can work on.
func validate(t *topology.Topology) error {
	if t == nil {
		return fmt.Errorf("%w: nil topology", topology.ErrCorrupt)
	}
	if !lww.ValidName(t.DC) {
		return fmt.Errorf("%w: bad dc name %q", topology.ErrCorrupt, t.DC)
	}
	for id, st := range t.Stores {
		if st == nil || st.ID != id || !topology.ValidName(id) {
			return fmt.Errorf("%w: store %q inconsistent", topology.ErrCorrupt, id)
		}
	}
	if err := topology.CheckRemoteDCs(t.DC, t.RemoteDCs); err != nil {
		return fmt.Errorf("%w: %w", topology.ErrCorrupt, err)
	}
	for name, ks := range t.Keyspaces {
		if ks == nil || ks.Name != name || !topology.ValidName(name) ||
			ks.Shards < 1 || ks.Shards > topology.MaxShards ||
			ks.Replicas < 1 || ks.Replicas > topology.MaxReplicas ||
			len(ks.Placement) != ks.Shards {
			return fmt.Errorf("%w: keyspace %q inconsistent", topology.ErrCorrupt, name)
		}
	}
	return nil
}

// clone deep-copies a topology that validate accepted.
func clone(t *topology.Topology) *topology.Topology {
	c := &topology.Topology{
		DC:        t.DC,
		ID:        t.ID,
		Version:   t.Version,
		Stores:    make(map[string]*topology.Store, len(t.Stores)),
		Keyspaces: make(map[string]*topology.Keyspace, len(t.Keyspaces)),
		Deleted:   slices.Clone(t.Deleted),

		RemoteDCs:        slices.Clone(t.RemoteDCs),
		RemoteDCsManaged: t.RemoteDCsManaged,
	}
	for id, st := range t.Stores {
		cp := copyStore(st)
		c.Stores[id] = &cp
	}
	for name, ks := range t.Keyspaces {
		c.Keyspaces[name] = cloneKeyspace(ks)
	}
	for _, m := range t.Moves {
		cp := *m
		c.Moves = append(c.Moves, &cp)
	}
	for _, op := range t.Ops {
		cp := *op
		c.Ops = append(c.Ops, &cp)
	}
	return c
}

func clonePlacement(p [][]string) [][]string {
	out := make([][]string, len(p))
	for i, reps := range p {
		out[i] = slices.Clone(reps)
	}
	return out
}

func copyStore(st *topology.Store) topology.Store {
	cp := *st
	cp.Serving = slices.Clone(st.Serving)
	cp.Unplaced = slices.Clone(st.Unplaced)
	cp.ReadOnly = maps.Clone(st.ReadOnly)
	return cp
}

func cloneKeyspace(ks *topology.Keyspace) *topology.Keyspace {
	cp := *ks
	cp.Placement = clonePlacement(ks.Placement)
	cp.ShardEpochs = slices.Clone(ks.ShardEpochs)
	if ks.Resize != nil {
		r := *ks.Resize
		r.Placement = clonePlacement(r.Placement)
		r.Epochs = slices.Clone(r.Epochs)
		cp.Resize = &r
	}
	return &cp
}

// describe builds the reply describing one keyspace of t.
func describe(t *topology.Topology, name string) (topology.KeyspaceReply, error) {
	if err := topology.CheckName("keyspace", name); err != nil {
		return topology.KeyspaceReply{}, err
	}
	ks, err := t.Keyspace(name)
	if err != nil {
		return topology.KeyspaceReply{}, err
	}
	return keyspaceReply(t, ks), nil
}

func keyspaceReply(t *topology.Topology, ks *topology.Keyspace) topology.KeyspaceReply {
	stores := map[string]topology.Store{}
	for _, reps := range ks.Placement {
		for _, id := range reps {
			if st, ok := t.Stores[id]; ok {
				stores[id] = copyStore(st)
			}
		}
	}
	return topology.KeyspaceReply{Keyspace: cloneKeyspace(ks), Stores: stores, Version: t.Version}
}

func listKeyspaces(t *topology.Topology) topology.ListKeyspacesReply {
	out := topology.ListKeyspacesReply{Keyspaces: []*topology.Keyspace{}, Version: t.Version}
	for _, name := range t.KeyspaceNames() {
		out.Keyspaces = append(out.Keyspaces, cloneKeyspace(t.Keyspaces[name]))
	}
	return out
}

func listStores(t *topology.Topology) topology.ListStoresReply {
	out := topology.ListStoresReply{Stores: []topology.Store{}, Version: t.Version}
	for _, id := range t.StoreIDs() {
		out.Stores = append(out.Stores, copyStore(t.Stores[id]))
	}
	return out
}
