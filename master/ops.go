package master

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/vasto-kv/vasto/topology"
)

// Online operations: resize, replace, drain, rebalance. They live in the
// topology (Keyspace.Resize, Topology.Moves, Topology.Ops), and advance
// advances them from what the stores report in their heartbeats, so a
// master that restarts mid-operation picks it up where it was.

// report is what the master last heard from a store about its shards; it
// is soft state, rebuilt from heartbeats after a restart.
type report struct {
	version uint64
	fills   map[string]topology.Fill // by "ks/shard"
	sizes   map[string]topology.ShardSize
	serving map[string]bool
	held    []topology.HeldShard
	// remoteDCs are the valid remote DC names the store reports applying.
	remoteDCs []string
}

func (s *State) record(hb topology.Heartbeat) {
	r := &report{version: hb.Version, fills: map[string]topology.Fill{}, sizes: hb.Sizes, serving: map[string]bool{}}
	if prev, ok := s.reports[hb.Store]; ok && r.sizes == nil {
		r.sizes = prev.sizes // sizes come with every few heartbeats only
	}
	for _, f := range hb.Fills {
		r.fills[f.Shard] = f
	}
	for _, sh := range hb.Serving {
		r.serving[sh] = true
	}
	r.held = hb.Held
	r.remoteDCs = reportedRemoteDCs(s.topo.DC, hb.RemoteDCs)
	if prev, ok := s.reports[hb.Store]; ok && !hb.HeldFull {
		r.held = prev.held // the full list comes with every few heartbeats only
	}
	s.reports[hb.Store] = r
}

func shardName(ks string, shard uint32) string {
	return ks + "/" + strconv.FormatUint(uint64(shard), 10)
}

// startOp records a running operation under the version about to be
// published and returns it.
func (s *State) startOp(kind, keyspace, store, target, detail string, now int64) *topology.Operation {
	s.bump()
	op := &topology.Operation{ID: s.topo.Version, Kind: kind, Keyspace: keyspace, Store: store,
		Target: target, State: topology.OpRunning, Detail: detail, Started: now}
	s.topo.Ops = append(s.topo.Ops, op)
	return op
}

// finishOp marks an operation finished and forgets the oldest finished
// ones beyond topology.MaxFinishedOps.
func (s *State) finishOp(id uint64, state, detail string, now int64) {
	op := s.topo.Operation(id)
	if op == nil || op.State != topology.OpRunning {
		return
	}
	op.State, op.Finished = state, now
	if detail != "" {
		op.Detail = detail
	}
	s.emit(event{kind: evOpDone, store: op.Kind, addr: fmt.Sprintf("%d %s: %s", op.ID, state, op.Detail)})
	// Forget the finished operations that finished first (never the one
	// finishing now, however early it started).
	var finished []*topology.Operation
	for _, o := range s.topo.Ops {
		if o.State != topology.OpRunning && o.ID != id {
			finished = append(finished, o)
		}
	}
	excess := len(finished) + 1 - topology.MaxFinishedOps
	if excess <= 0 {
		return
	}
	sort.SliceStable(finished, func(a, b int) bool { return finished[a].Finished < finished[b].Finished })
	drop := map[uint64]bool{}
	for _, o := range finished[:excess] {
		drop[o.ID] = true
	}
	s.topo.Ops = slices.DeleteFunc(s.topo.Ops, func(o *topology.Operation) bool { return drop[o.ID] })
}

// runningOp returns the running operation of a keyspace, or nil.
func (s *State) runningOp(name string) *topology.Operation {
	for _, op := range s.topo.Ops {
		if op.State == topology.OpRunning && op.Keyspace == name {
			return op
		}
	}
	for _, m := range s.topo.Moves {
		if m.Keyspace == name {
			return s.topo.Operation(m.Op)
		}
	}
	return nil
}

func (s *State) checkIdle(name string) error {
	if !s.topo.Busy(name) {
		return nil
	}
	if op := s.runningOp(name); op != nil {
		return fmt.Errorf("%w: keyspace %q: %s operation %d is running; wait for it (vasto op wait %d) or cancel it",
			ErrBusy, name, op.Kind, op.ID, op.ID)
	}
	return fmt.Errorf("%w: keyspace %q has an operation running", ErrBusy, name)
}

// ResizePlan returns what resizing keyspace name to shards would move.
func (s *State) ResizePlan(name string, shards int) (topology.Plan, error) {
	ks, err := s.resizable(name, shards)
	if err != nil {
		return topology.Plan{}, err
	}
	placement, err := s.resizePlacement(ks, shards)
	if err != nil {
		return topology.Plan{}, err
	}
	return s.plan(ks, shards, placement), nil
}

func (s *State) resizable(name string, shards int) (*topology.Keyspace, error) {
	if err := topology.CheckName("keyspace", name); err != nil {
		return nil, err
	}
	ks, err := s.topo.Keyspace(name)
	if err != nil {
		return nil, err
	}
	if shards < 1 || shards > topology.MaxShards {
		return nil, fmt.Errorf("%w: shards must be 1..%d, got %d", ErrInvalidRequest, topology.MaxShards, shards)
	}
	if shards == ks.Shards {
		return nil, fmt.Errorf("%w: keyspace %q already has %d shards", ErrInvalidRequest, name, shards)
	}
	if err := s.checkIdle(name); err != nil {
		return nil, err
	}
	return ks, nil
}

// resizePlacement keeps the placement of the shards both layouts have and
// places the new ones on the healthy stores, least loaded first.
func (s *State) resizePlacement(ks *topology.Keyspace, shards int) ([][]string, error) {
	out := make([][]string, shards)
	for i := 0; i < min(shards, ks.Shards); i++ {
		out[i] = slices.Clone(ks.Placement[i])
	}
	if shards <= ks.Shards {
		return out, nil
	}
	added, err := topology.Place(s.healthyStores(), s.topo.Load(), shards-ks.Shards, ks.Replicas)
	if err != nil {
		return nil, err
	}
	copy(out[ks.Shards:], added)
	return out, nil
}

// plan estimates the data a resize moves from the sizes stores reported:
// jump hashing sends 1/to of every source shard's keys to each target.
func (s *State) plan(ks *topology.Keyspace, to int, placement [][]string) topology.Plan {
	r := &topology.Resize{From: ks.Shards, To: to}
	var p topology.Plan
	if to > ks.Shards {
		p.Created = r.Targets()
	} else {
		p.Removed = r.Sources()
	}
	for _, src := range r.Sources() {
		size := s.shardSize(ks.Name, src, ks.Placement[src])
		for _, dst := range r.Targets() {
			keys, bytes := size.Keys/uint64(to), size.Bytes/uint64(to)
			p.Steps = append(p.Steps, topology.PlanStep{
				Keyspace: ks.Name, FromShard: src, ToShard: dst,
				FromStores: slices.Clone(ks.Placement[src]), ToStores: slices.Clone(placement[dst]),
				Keys: keys, Bytes: bytes,
				Description: fmt.Sprintf("shard %d -> shard %d", src, dst),
			})
			p.Keys += keys
			p.Bytes += bytes
		}
	}
	return p
}

// shardSize is the largest size any replica reported for a shard.
func (s *State) shardSize(ks string, shard uint32, reps []string) topology.ShardSize {
	var best topology.ShardSize
	name := shardName(ks, shard)
	for _, id := range reps {
		if r, ok := s.reports[id]; ok {
			if sz, ok := r.sizes[name]; ok && sz.Keys >= best.Keys {
				best = sz
			}
		}
	}
	return best
}

// StartResize starts changing keyspace name's number of shards. The new
// shards are placed on the healthy stores; the shards both layouts have
// stay where they are. Errors: topology.ErrBadName,
// topology.ErrUnknownKeyspace, ErrInvalidRequest, ErrBusy,
// topology.ErrNotEnoughStores.
func (s *State) StartResize(name string, shards int, now int64) (*topology.Operation, error) {
	ks, err := s.resizable(name, shards)
	if err != nil {
		return nil, err
	}
	placement, err := s.resizePlacement(ks, shards)
	if err != nil {
		return nil, err
	}
	s.raiseVersionAboveHeld() // the new shards' epoch is the op's id
	op := s.startOp(topology.OpKindResize, name, "", "",
		fmt.Sprintf("%d -> %d shards", ks.Shards, shards), now)
	epochs := make([]uint64, shards)
	for i := range epochs {
		if i < ks.Shards {
			epochs[i] = ks.ShardEpoch(uint32(i))
		} else {
			epochs[i] = op.ID
		}
	}
	ks.Resize = &topology.Resize{ID: op.ID, From: ks.Shards, To: shards, Phase: topology.PhaseCopy,
		Placement: placement, Epochs: epochs, Started: now}
	return op, nil
}

// CancelResize abandons a resize that has not switched yet: the keyspace
// stays as it was and the stores drop what they copied. Errors:
// topology.ErrUnknownKeyspace, ErrInvalidRequest (no resize, or it already
// switched: it can only finish).
func (s *State) CancelResize(name string, now int64) (*topology.Operation, error) {
	if err := topology.CheckName("keyspace", name); err != nil {
		return nil, err
	}
	ks, err := s.topo.Keyspace(name)
	if err != nil {
		return nil, err
	}
	r := ks.Resize
	if r == nil {
		return nil, fmt.Errorf("%w: keyspace %q is not being resized", ErrInvalidRequest, name)
	}
	if r.Phase != topology.PhaseCopy {
		return nil, fmt.Errorf("%w: keyspace %q already switched to %d shards; the resize can only finish", ErrInvalidRequest, name, r.To)
	}
	ks.Resize = nil
	s.bump()
	s.finishOp(r.ID, topology.OpCancelled, fmt.Sprintf("%d -> %d shards cancelled before the switch", r.From, r.To), now)
	return s.topo.Operation(r.ID), nil
}

// advance moves every running operation forward as far as the stores'
// reports allow and reports whether the topology changed; the caller bumps
// the version.
func (s *State) advance(now int64) bool {
	changed := false
	for _, name := range s.topo.KeyspaceNames() {
		if s.advanceResize(s.topo.Keyspaces[name], now) {
			changed = true
		}
	}
	if s.advanceMoves(now) {
		changed = true
	}
	return changed
}

// resizeTargets lists the target shard replicas of a resize ("ks/shard",
// store) and how many of them reached phase (or a later one).
func (s *State) resizeTargets(ks *topology.Keyspace, want string) (done, total int, waiting []string, keys, bytes uint64) {
	r := ks.Resize
	placement := r.NewPlacement(ks)
	for _, t := range r.Targets() {
		name := shardName(ks.Name, t)
		for _, id := range placement[t] {
			total++
			rep, ok := s.reports[id]
			var f topology.Fill
			if ok {
				f, ok = rep.fills[name]
			}
			if ok && f.Resize == r.ID {
				keys += f.Keys
				bytes += f.Bytes
			}
			st := s.topo.Stores[id]
			switch {
			case st == nil || !st.Healthy:
				// Its last report may say tailing, but a layout is not
				// switched onto a replica that is down.
				waiting = append(waiting, fmt.Sprintf("%s on %s: store down", name, id))
			case ok && f.Resize == r.ID && fillAtLeast(f.Phase, want):
				done++
			case ok && f.Resize == r.ID && f.Error != "":
				waiting = append(waiting, fmt.Sprintf("%s on %s: %s (%s)", name, id, f.Phase, f.Error))
			case ok && f.Resize == r.ID:
				waiting = append(waiting, fmt.Sprintf("%s on %s: %s", name, id, f.Phase))
			default:
				waiting = append(waiting, fmt.Sprintf("%s on %s: not started", name, id))
			}
		}
	}
	return done, total, waiting, keys, bytes
}

func fillAtLeast(phase, want string) bool {
	rank := map[string]int{topology.FillCopying: 1, topology.FillTailing: 2, topology.FillDrained: 3}
	return rank[phase] >= rank[want]
}

// advanceResize switches a resize whose targets are all copied and tailing,
// and ends one whose targets have all drained their sources after the
// switch. It does not bump the version.
func (s *State) advanceResize(ks *topology.Keyspace, now int64) bool {
	r := ks.Resize
	if r == nil {
		return false
	}
	switch r.Phase {
	case topology.PhaseCopy:
		if done, total, _, _, _ := s.resizeTargets(ks, topology.FillTailing); done < total {
			return false
		}
		oldPlacement, oldEpochs := ks.Placement, make([]uint64, ks.Shards)
		for i := range oldEpochs {
			oldEpochs[i] = ks.ShardEpoch(uint32(i))
		}
		ks.Shards, ks.Placement, ks.ShardEpochs = r.To, r.Placement, r.Epochs
		r.Placement, r.Epochs = oldPlacement, oldEpochs
		r.Phase, r.Switched = topology.PhaseSwitched, s.topo.Version+1
		s.emit(event{kind: evResize, store: ks.Name, addr: fmt.Sprintf("switched to %d shards", r.To)})
		return true
	case topology.PhaseSwitched:
		if done, total, _, _, _ := s.resizeTargets(ks, topology.FillDrained); done < total {
			return false
		}
		ks.Resize = nil
		if slices.IndexFunc(ks.ShardEpochs, func(e uint64) bool { return e > ks.Epoch }) < 0 {
			ks.ShardEpochs = nil
		}
		s.finishOp(r.ID, topology.OpDone, fmt.Sprintf("%d -> %d shards", r.From, r.To), now)
		return true
	}
	return false
}

// Progress returns the progress of a running operation, or nil.
func (s *State) Progress(id uint64) *topology.Progress {
	op := s.topo.Operation(id)
	if op == nil || op.State != topology.OpRunning {
		return nil
	}
	if op.Kind == topology.OpKindResize {
		ks, ok := s.topo.Keyspaces[op.Keyspace]
		if !ok || ks.Resize == nil || ks.Resize.ID != id {
			return nil
		}
		want := topology.FillTailing
		if ks.Resize.Phase == topology.PhaseSwitched {
			want = topology.FillDrained
		}
		done, total, waiting, keys, bytes := s.resizeTargets(ks, want)
		return &topology.Progress{Phase: ks.Resize.Phase, Done: done, Total: total, Keys: keys, Bytes: bytes, Waiting: waiting}
	}
	p := &topology.Progress{Phase: "moving"}
	for _, m := range s.topo.Moves {
		if m.Op != id {
			continue
		}
		p.Total++
		p.Waiting = append(p.Waiting, m.String()+": "+s.moveState(m))
	}
	if op.Moves > p.Total {
		p.Done = op.Moves - p.Total
		p.Total = op.Moves
	}
	return p
}

func (s *State) moveState(m *topology.Move) string {
	st := s.topo.Stores[m.To]
	if st == nil || !st.Healthy {
		return "target down"
	}
	return "filling"
}

// moveTo picks a store for a replica of a shard: the least loaded healthy
// store that does not hold the shard, other than avoid.
func (s *State) moveTo(reps []string, avoid string, load map[string]int) (string, bool) {
	best := ""
	for _, id := range s.healthyStores() {
		if id == avoid || slices.Contains(reps, id) {
			continue
		}
		if best == "" || load[id] < load[best] {
			best = id
		}
	}
	return best, best != ""
}

// ReplacePlan lists the moves that replacing (or, with an empty target,
// draining) store would start.
func (s *State) ReplacePlan(store, target string) ([]*topology.Move, error) {
	if err := topology.CheckName("store", store); err != nil {
		return nil, err
	}
	if _, ok := s.topo.Stores[store]; !ok {
		return nil, fmt.Errorf("%w: store %q", ErrNotFound, store)
	}
	if target != "" {
		if err := topology.CheckName("store", target); err != nil {
			return nil, err
		}
		st, ok := s.topo.Stores[target]
		if !ok || !st.Healthy {
			return nil, fmt.Errorf("%w: replacement store %q is not a healthy store of the DC", ErrNotFound, target)
		}
		if target == store {
			return nil, fmt.Errorf("%w: a store cannot replace itself", ErrInvalidRequest)
		}
	}
	if err := s.checkReplaceable(store); err != nil {
		return nil, err
	}
	load := s.topo.Load()
	var moves []*topology.Move
	for _, ref := range s.topo.ShardsOf(store) {
		reps := s.topo.Keyspaces[ref.Keyspace].Placement[ref.Shard]
		to := target
		if to == "" {
			var ok bool
			if to, ok = s.moveTo(reps, store, load); !ok {
				return nil, fmt.Errorf("%w: no healthy store can take %s (it needs one not holding the shard)",
					topology.ErrNotEnoughStores, ref)
			}
		} else if slices.Contains(reps, to) {
			return nil, fmt.Errorf("%w: %s already holds %s; drain %s instead", ErrInvalidRequest, to, ref, store)
		}
		load[to]++
		load[store]--
		moves = append(moves, &topology.Move{Keyspace: ref.Keyspace, Shard: ref.Shard, From: store, To: to})
	}
	if err := s.checkSurvivors(moves); err != nil {
		return nil, err
	}
	return moves, nil
}

// checkReplaceable refuses to move replicas off store while a keyspace it
// holds (in either layout of a resize) has an operation running. One
// exception keeps a resize from waiting forever: a store that is down may
// be replaced once the resize switched, and its replacement fills the
// target shards it held.
func (s *State) checkReplaceable(store string) error {
	st := s.topo.Stores[store]
	down := st == nil || !st.Healthy
	for _, name := range s.topo.KeyspaceNames() {
		ks := s.topo.Keyspaces[name]
		r := ks.Resize
		if !placedIn(ks.Placement, store) && (r == nil || !placedIn(r.Placement, store)) {
			continue
		}
		if r != nil && r.Phase == topology.PhaseSwitched && down && len(s.topo.MovesOf(name)) == 0 {
			continue
		}
		if err := s.checkIdle(name); err != nil {
			return err
		}
	}
	return nil
}

func placedIn(placement [][]string, store string) bool {
	for _, reps := range placement {
		if slices.Contains(reps, store) {
			return true
		}
	}
	return false
}

// checkSurvivors refuses moves off a store that is down when it holds a
// shard's only replica: nothing could fill the new one.
func (s *State) checkSurvivors(moves []*topology.Move) error {
	for _, m := range moves {
		st := s.topo.Stores[m.From]
		if st != nil && st.Healthy {
			continue
		}
		alive := 0
		for _, id := range s.topo.Keyspaces[m.Keyspace].Placement[m.Shard] {
			if o := s.topo.Stores[id]; id != m.From && o != nil && o.Healthy {
				alive++
			}
		}
		if alive == 0 {
			return fmt.Errorf("%w: %s is down and holds the only replica of %s/%d: bring it back first",
				topology.ErrNotEnoughStores, m.From, m.Keyspace, m.Shard)
		}
	}
	return nil
}

// StartMoves starts a replace, drain or rebalance operation made of moves.
func (s *State) StartMoves(kind, keyspace, store, target string, moves []*topology.Move, now int64) (*topology.Operation, error) {
	if len(moves) == 0 {
		return nil, fmt.Errorf("%w: nothing to move", ErrInvalidRequest)
	}
	op := s.startOp(kind, keyspace, store, target, fmt.Sprintf("%d replica moves", len(moves)), now)
	op.Moves = len(moves)
	for _, m := range moves {
		m.Op = op.ID
		reps := s.topo.Keyspaces[m.Keyspace].Placement[m.Shard]
		if st := s.topo.Stores[m.From]; st == nil || !st.Healthy {
			// The old replica is down: the new one takes its place at once
			// and fills itself from the live peers.
			reps[slices.Index(reps, m.From)] = m.To
		} else {
			s.topo.Keyspaces[m.Keyspace].Placement[m.Shard] = append(reps, m.To)
		}
		s.topo.Moves = append(s.topo.Moves, m)
	}
	return op, nil
}

// RebalancePlan lists the moves that even out a keyspace's placement over
// the healthy stores: it moves replicas from the most to the least loaded
// store (counting every keyspace's shards) while that narrows the gap.
func (s *State) RebalancePlan(name string) ([]*topology.Move, error) {
	if err := topology.CheckName("keyspace", name); err != nil {
		return nil, err
	}
	ks, err := s.topo.Keyspace(name)
	if err != nil {
		return nil, err
	}
	if err := s.checkIdle(name); err != nil {
		return nil, err
	}
	healthy := s.healthyStores()
	if len(healthy) == 0 {
		return nil, fmt.Errorf("%w: no healthy store", topology.ErrNotEnoughStores)
	}
	load := s.topo.Load()
	placement := make([][]string, len(ks.Placement))
	for i := range placement {
		placement[i] = slices.Clone(ks.Placement[i])
	}
	var moves []*topology.Move
	moved := map[uint32]bool{} // one move per shard at a time
	for range len(placement) * ks.Replicas {
		order := slices.Clone(healthy)
		sort.SliceStable(order, func(a, b int) bool { return load[order[a]] > load[order[b]] })
		m := bestMove(name, placement, order, load, moved)
		if m == nil {
			break
		}
		moved[m.Shard] = true
		reps := placement[m.Shard]
		reps[slices.Index(reps, m.From)] = m.To
		load[m.From]--
		load[m.To]++
		moves = append(moves, m)
	}
	return moves, nil
}

// bestMove finds a replica of the keyspace on a heavily loaded store that
// can go to a lightly loaded one, narrowing the gap by two or more.
func bestMove(name string, placement [][]string, order []string, load map[string]int, moved map[uint32]bool) *topology.Move {
	for _, from := range order {
		for j := len(order) - 1; j >= 0; j-- {
			to := order[j]
			if load[from]-load[to] < 2 {
				break
			}
			for i, reps := range placement {
				if !moved[uint32(i)] && slices.Contains(reps, from) && !slices.Contains(reps, to) {
					return &topology.Move{Keyspace: name, Shard: uint32(i), From: from, To: to}
				}
			}
		}
	}
	return nil
}

// advanceMoves completes the moves whose new replica serves the shard: it
// takes the old replica's place. It does not bump the version.
func (s *State) advanceMoves(now int64) bool {
	changed := false
	var left []*topology.Move
	for _, m := range s.topo.Moves {
		ks, ok := s.topo.Keyspaces[m.Keyspace]
		if !ok || int(m.Shard) >= len(ks.Placement) {
			changed = true // the keyspace was deleted (or resized away)
			continue
		}
		rep, ok := s.reports[m.To]
		st := s.topo.Stores[m.To]
		// Serving counts only from a heartbeat sent under the topology
		// that placed the new replica: an older one may describe a copy
		// the store held before (one that was leaving it, say).
		if !ok || st == nil || !st.Healthy || rep.version < m.Op || !rep.serving[shardName(m.Keyspace, m.Shard)] {
			left = append(left, m)
			continue
		}
		reps := ks.Placement[m.Shard]
		if from := slices.Index(reps, m.From); from >= 0 {
			if to := slices.Index(reps, m.To); to >= 0 && to != from {
				reps = slices.Delete(reps, to, to+1)
				reps[slices.Index(reps, m.From)] = m.To
			}
		}
		ks.Placement[m.Shard] = reps
		s.emit(event{kind: evMoveDone, store: m.To, addr: m.String()})
		changed = true
	}
	if !changed {
		return false
	}
	s.topo.Moves = left
	// Collect first: finishing an operation may forget older ones.
	var ended []uint64
	for _, op := range s.topo.Ops {
		if op.State != topology.OpRunning || op.Kind == topology.OpKindResize {
			continue
		}
		if !slices.ContainsFunc(left, func(m *topology.Move) bool { return m.Op == op.ID }) {
			ended = append(ended, op.ID)
		}
	}
	for _, id := range ended {
		s.finishOp(id, topology.OpDone, "", now)
		s.retire(id)
	}
	return true
}

// retire removes the store a finished replace emptied from the topology
// when it is down: it is gone for good. (A live one stays, holding
// nothing, until it stops; if it beats again later it joins as a new,
// empty store.)
func (s *State) retire(id uint64) {
	op := s.topo.Operation(id)
	if op == nil || op.Kind != topology.OpKindReplace || op.Store == "" {
		return
	}
	st, ok := s.topo.Stores[op.Store]
	if !ok || st.Healthy || len(s.topo.ShardsOf(op.Store)) > 0 {
		return
	}
	for _, ks := range s.topo.Keyspaces {
		if ks.Resize != nil && placedIn(ks.Resize.Placement, op.Store) {
			return
		}
	}
	delete(s.topo.Stores, op.Store)
	delete(s.lastSeen, op.Store)
	delete(s.reports, op.Store)
	op.Detail += "; " + op.Store + " retired"
	s.emit(event{kind: evRetired, store: op.Store, addr: st.Addr})
}
