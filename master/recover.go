package master

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vasto-kv/vasto/topology"
)

// Recovery of keyspaces from what the stores hold.
//
// The topology lives in NATS; the data lives in the stores. If the
// topology is lost (NATS's data directory wiped, the bucket deleted), the
// master starts a new one that knows no keyspace, while the stores still
// hold every shard. Stores never delete a shard because a topology does not
// know it (only a recorded deletion of its exact incarnation does that), and
// report every shard they hold with its incarnation, layout and replica
// count. From those reports the master rebuilds the keyspaces: on request
// (`vasto keyspace recover`), or by itself once the reports have been
// stable for AutoRecoverAfter.

// heldShard is one shard replica a store reports holding.
type heldShard struct {
	store string
	topology.HeldShard
}

// unplacedHeld lists, in order, the shards healthy stores report holding
// whose incarnation the topology does not know (keyspace absent, or epoch
// not among the keyspace's) and does not record as deleted.
func (s *State) unplacedHeld() []heldShard {
	var out []heldShard
	for _, id := range s.topo.StoreIDs() {
		st, r := s.topo.Stores[id], s.reports[id]
		if !st.Healthy || r == nil {
			continue
		}
		for _, h := range r.held {
			// Epoch 0: a shard that never joined a cluster; the first
			// keyspace of its name placed on the store adopts it.
			if h.Epoch == 0 || s.placedIncarnation(h) || s.topo.IsDeleted(h.Keyspace, h.Epoch) {
				continue
			}
			out = append(out, heldShard{store: id, HeldShard: h})
		}
	}
	return out
}

// placedIncarnation reports whether h belongs to an incarnation of its
// keyspace that the topology holds.
func (s *State) placedIncarnation(h topology.HeldShard) bool {
	ks, ok := s.topo.Keyspaces[h.Keyspace]
	return ok && ks.HasEpoch(h.Epoch)
}

// unplacedOf lists what store holds that the topology does not know, as
// "ks/shard@epoch", sorted; nil if nothing.
func (s *State) unplacedOf(store string) []string {
	r := s.reports[store]
	if r == nil {
		return nil
	}
	var out []string
	for _, h := range r.held {
		if h.Epoch != 0 && !s.placedIncarnation(h) && !s.topo.IsDeleted(h.Keyspace, h.Epoch) {
			out = append(out, h.String())
		}
	}
	sort.Strings(out)
	return out
}

// maxHeldEpoch is the highest incarnation any store reports holding.
func (s *State) maxHeldEpoch() uint64 {
	var m uint64
	for _, r := range s.reports {
		for _, h := range r.held {
			m = max(m, h.Epoch)
		}
	}
	return m
}

// raiseVersionAboveHeld makes the next version, which names a new keyspace
// incarnation or resize, greater than every incarnation a store holds, so a
// rebuilt topology never gives a new keyspace the epoch of data a store
// still has.
func (s *State) raiseVersionAboveHeld() {
	if m := s.maxHeldEpoch(); s.topo.Version < m {
		s.topo.Version = m
	}
}

// heldIncarnation checks whether stores hold data of keyspace name that the
// topology does not know; it returns an error saying how to resolve it.
func (s *State) heldIncarnation(name string) error {
	epochs := map[uint64][]string{}
	for _, h := range s.unplacedHeld() {
		if h.Keyspace == name && !slices.Contains(epochs[h.Epoch], h.store) {
			epochs[h.Epoch] = append(epochs[h.Epoch], h.store)
		}
	}
	if len(epochs) == 0 {
		return nil
	}
	var parts []string
	for _, e := range sortedKeys(epochs) {
		parts = append(parts, fmt.Sprintf("epoch %d on %s", e, strings.Join(epochs[e], ", ")))
	}
	return fmt.Errorf("%w: %q: stores hold data of an incarnation the topology does not know (%s): "+
		"recover it with `vasto keyspace recover %s`, or discard it with `vasto keyspace delete %s --epoch N`",
		ErrKeyspaceExists, name, strings.Join(parts, "; "), name, name)
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// rebuild builds keyspace name from the held shards hs (all of that name).
// Each shard takes the newest incarnation held; every shard of the layout
// must be held by some healthy store.
func rebuild(name string, hs []heldShard) (*topology.Keyspace, error) {
	shards, replicas := 0, 0
	best := map[uint32]uint64{} // shard -> newest epoch held
	for _, h := range hs {
		shards = max(shards, h.Shards, int(h.Shard)+1)
		replicas = max(replicas, h.Replicas)
		best[h.Shard] = max(best[h.Shard], h.Epoch)
	}
	if shards > topology.MaxShards {
		return nil, fmt.Errorf("%w: %d shards", ErrInvalidRequest, shards)
	}
	placement := make([][]string, shards)
	epochs := make([]uint64, shards)
	var missing []string
	for i := range placement {
		e, ok := best[uint32(i)]
		if !ok {
			missing = append(missing, fmt.Sprint(i))
			continue
		}
		epochs[i] = e
		for _, h := range hs {
			if h.Shard == uint32(i) && h.Epoch == e && !slices.Contains(placement[i], h.store) {
				placement[i] = append(placement[i], h.store)
			}
		}
		sort.Strings(placement[i])
		replicas = max(replicas, len(placement[i]))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: shards %s of %d are held by no live store", ErrInvalidRequest, strings.Join(missing, ","), shards)
	}
	ks := &topology.Keyspace{Name: name, Shards: shards, Replicas: min(max(replicas, 1), topology.MaxReplicas),
		Placement: placement, Epoch: slices.Min(epochs)}
	if slices.Max(epochs) != ks.Epoch {
		ks.ShardEpochs = epochs
	}
	return ks, nil
}

// Recover rebuilds the keyspaces the topology does not know from the shards
// healthy stores report holding (every recoverable one if names is empty).
// A recovered keyspace keeps its incarnation (epoch) and its replicas stay
// where they are, so every write the stores hold is readable again. A
// keyspace is refused if the topology has another incarnation of the name,
// or if some shard of its layout is held by no healthy store. With dryRun
// nothing changes. Recover never deletes anything.
func (s *State) Recover(req topology.RecoverRequest) (topology.RecoverReply, error) {
	for _, n := range req.Names {
		if err := topology.CheckName("keyspace", n); err != nil {
			return topology.RecoverReply{}, err
		}
	}
	byName := map[string][]heldShard{}
	for _, h := range s.unplacedHeld() {
		byName[h.Keyspace] = append(byName[h.Keyspace], h)
	}
	names := req.Names
	if len(names) == 0 {
		for n := range byName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	reply := topology.RecoverReply{Recovered: []*topology.Keyspace{}, Refused: map[string]string{}}
	var recovered []*topology.Keyspace
	for _, n := range slices.Compact(names) {
		hs := byName[n]
		switch {
		case len(hs) == 0:
			if _, ok := s.topo.Keyspaces[n]; ok {
				reply.Refused[n] = "in the topology already; no store holds another incarnation"
			} else {
				reply.Refused[n] = "no live store holds shards of it"
			}
			continue
		case s.topo.Keyspaces[n] != nil:
			reply.Refused[n] = fmt.Sprintf("the topology has another incarnation (epoch %d); delete one of them first "+
				"(`vasto keyspace delete %s`, or `--epoch N` for the held one)", s.topo.Keyspaces[n].Epoch, n)
			continue
		}
		ks, err := rebuild(n, hs)
		if err != nil {
			reply.Refused[n] = err.Error()
			continue
		}
		recovered = append(recovered, ks)
		reply.Recovered = append(reply.Recovered, cloneKeyspace(ks))
	}
	if len(reply.Refused) == 0 {
		reply.Refused = nil
	}
	if req.DryRun || len(recovered) == 0 {
		reply.Version = s.topo.Version
		return reply, nil
	}
	s.raiseVersionAboveHeld()
	s.bump()
	for _, ks := range recovered {
		s.topo.Keyspaces[ks.Name] = ks
		delete(s.unplacedSince, ks.Name)
	}
	s.refreshUnplaced()
	reply.Version = s.topo.Version
	return reply, nil
}

// AutoRecover recovers the keyspaces the topology does not know, once every
// shard of each is held by a healthy store and the set of such shards has
// not changed for after (so every store that is up has reported). It
// reports what it recovered; nil if nothing. It never deletes anything.
func (s *State) AutoRecover(now, after int64) []*topology.Keyspace {
	byName := map[string][]string{}
	for _, h := range s.unplacedHeld() {
		if _, ok := s.topo.Keyspaces[h.Keyspace]; ok {
			continue // another incarnation is placed: an operator decides
		}
		byName[h.Keyspace] = append(byName[h.Keyspace], h.store+":"+h.String())
	}
	var due []string
	for n, sig := range byName {
		slices.Sort(sig)
		key := strings.Join(sig, ",")
		if prev, ok := s.unplacedSince[n]; !ok || prev.sig != key {
			s.unplacedSince[n] = since{sig: key, at: now}
			continue
		}
		if now-s.unplacedSince[n].at >= after {
			due = append(due, n)
		}
	}
	for n := range s.unplacedSince {
		if _, ok := byName[n]; !ok {
			delete(s.unplacedSince, n)
		}
	}
	if len(due) == 0 {
		return nil
	}
	reply, err := s.Recover(topology.RecoverRequest{Names: due})
	if err != nil {
		return nil
	}
	for n := range reply.Refused {
		// Not recoverable yet (a shard nobody live holds): wait for a new
		// report rather than trying again at every tick.
		s.unplacedSince[n] = since{sig: s.unplacedSince[n].sig, at: now}
	}
	return reply.Recovered
}

// since is when a keyspace's unplaced shards were last seen to change.
type since struct {
	sig string
	at  int64
}

// refreshUnplaced recomputes every store's Unplaced list; it reports
// whether any changed.
func (s *State) refreshUnplaced() bool {
	changed := false
	for id, st := range s.topo.Stores {
		u := s.unplacedOf(id)
		if !slices.Equal(st.Unplaced, u) {
			st.Unplaced = u
			changed = true
		}
	}
	return changed
}

// DiscardIncarnation records incarnation epoch of keyspace name as deleted,
// so the stores that hold its shards drop them. The incarnation must not be
// the one the topology places (delete that with DeleteKeyspace). Errors:
// topology.ErrBadName, ErrInvalidRequest.
func (s *State) DiscardIncarnation(name string, epoch uint64) error {
	if err := topology.CheckName("keyspace", name); err != nil {
		return err
	}
	if epoch == 0 {
		return fmt.Errorf("%w: epoch 0", ErrInvalidRequest)
	}
	if ks, ok := s.topo.Keyspaces[name]; ok && ks.HasEpoch(epoch) {
		return fmt.Errorf("%w: epoch %d of %q is the placed incarnation: delete the keyspace instead", ErrInvalidRequest, epoch, name)
	}
	if s.topo.IsDeleted(name, epoch) {
		return nil
	}
	s.bump()
	s.topo.RecordDeleted(name, s.topo.Version, epoch)
	s.refreshUnplaced()
	return nil
}

// checkHeld validates a heartbeat's held shards.
func checkHeld(hb topology.Heartbeat) error {
	if len(hb.Held) > MaxServing {
		return fmt.Errorf("%w: store %s: %d held shards, at most %d", ErrBadHeartbeat, hb.Store, len(hb.Held), MaxServing)
	}
	for _, h := range hb.Held {
		if !topology.ValidName(h.Keyspace) || h.Shard >= topology.MaxShards ||
			h.Shards < 0 || h.Shards > topology.MaxShards || h.Replicas < 0 || h.Replicas > topology.MaxReplicas {
			return fmt.Errorf("%w: store %s: held shard %+v", ErrBadHeartbeat, hb.Store, h)
		}
	}
	return nil
}
