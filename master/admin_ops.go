package master

import (
	"context"
	"fmt"

	"github.com/vasto-kv/vasto/topology"
)

// The admin side of online operations (ops.go has the state machine).

// startOp applies an operation-starting change and publishes it; it returns
// the operation as published, with its progress.
func (m *Master) startOp(ctx context.Context, start func(*State, int64) (*topology.Operation, error)) (topology.OpReply, error) {
	var id uint64
	pub, err := m.publish(ctx, func(s *State) error {
		op, err := start(s, m.cfg.Clock.Now())
		if err != nil {
			return err
		}
		id = op.ID
		return nil
	})
	if err != nil {
		return topology.OpReply{}, err
	}
	op := pub.Operation(id)
	if op == nil {
		return topology.OpReply{}, fmt.Errorf("%w: operation %d missing after publish", ErrPublish, id)
	}
	m.log.Info("operation started", "op", op.ID, "kind", op.Kind, "keyspace", op.Keyspace,
		"store", op.Store, "target", op.Target, "detail", op.Detail, "state", op.State)
	return m.operation(id)
}

// resize plans or starts a resize.
func (m *Master) resize(ctx context.Context, req topology.ResizeRequest) (topology.OpReply, error) {
	m.mu.Lock()
	plan, err := m.st.ResizePlan(req.Name, req.Shards)
	v := m.st.Version()
	m.mu.Unlock()
	if err != nil {
		return topology.OpReply{}, err
	}
	if req.DryRun {
		return topology.OpReply{Plan: &plan, Version: v}, nil
	}
	reply, err := m.startOp(ctx, func(s *State, now int64) (*topology.Operation, error) {
		return s.StartResize(req.Name, req.Shards, now)
	})
	reply.Plan = &plan
	return reply, err
}

// replace plans or starts moving every replica off a store.
func (m *Master) replace(ctx context.Context, req topology.ReplaceRequest) (topology.OpReply, error) {
	kind := topology.OpKindReplace
	if req.Target == "" {
		kind = topology.OpKindDrain
	}
	if req.DryRun {
		m.mu.Lock()
		moves, err := m.st.ReplacePlan(req.Store, req.Target)
		v := m.st.Version()
		m.mu.Unlock()
		return topology.OpReply{Moves: moves, Version: v}, err
	}
	return m.startOp(ctx, func(s *State, now int64) (*topology.Operation, error) {
		moves, err := s.ReplacePlan(req.Store, req.Target)
		if err != nil {
			return nil, err
		}
		if len(moves) == 0 {
			return nil, fmt.Errorf("%w: store %s holds no shard replica", ErrInvalidRequest, req.Store)
		}
		return s.StartMoves(kind, "", req.Store, req.Target, moves, now)
	})
}

// rebalance plans or starts evening out a keyspace's placement.
func (m *Master) rebalance(ctx context.Context, req topology.RebalanceRequest) (topology.OpReply, error) {
	if req.DryRun {
		m.mu.Lock()
		moves, err := m.st.RebalancePlan(req.Name)
		v := m.st.Version()
		m.mu.Unlock()
		return topology.OpReply{Moves: moves, Version: v}, err
	}
	return m.startOp(ctx, func(s *State, now int64) (*topology.Operation, error) {
		moves, err := s.RebalancePlan(req.Name)
		if err != nil {
			return nil, err
		}
		if len(moves) == 0 {
			return nil, fmt.Errorf("%w: keyspace %s is balanced already", ErrInvalidRequest, req.Name)
		}
		return s.StartMoves(topology.OpKindRebalance, req.Name, "", "", moves, now)
	})
}

// operation looks up an operation with its progress and moves.
func (m *Master) operation(id uint64) (topology.OpReply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.st.topo
	op := t.Operation(id)
	if op == nil {
		return topology.OpReply{}, fmt.Errorf("%w: operation %d", ErrNotFound, id)
	}
	cp := *op
	reply := topology.OpReply{Operation: &cp, Progress: m.st.Progress(id), Version: t.Version}
	for _, mv := range t.Moves {
		if mv.Op == id {
			c := *mv
			reply.Moves = append(reply.Moves, &c)
		}
	}
	return reply, nil
}

// describe describes a keyspace with its operations and the progress of
// the running one.
func (m *Master) describe(name string) (topology.KeyspaceReply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	reply, err := describe(m.st.topo, name)
	if err != nil {
		return reply, err
	}
	for _, op := range m.st.topo.Ops {
		if op.Keyspace != name && !opTouches(m.st.topo, op.ID, name) {
			continue
		}
		cp := *op
		reply.Ops = append(reply.Ops, &cp)
		if op.State == topology.OpRunning {
			reply.Progress = m.st.Progress(op.ID)
		}
	}
	for _, mv := range m.st.topo.MovesOf(name) {
		c := *mv
		reply.Moves = append(reply.Moves, &c)
	}
	return reply, nil
}

// opTouches reports whether a running operation moves replicas of keyspace.
func opTouches(t *topology.Topology, id uint64, keyspace string) bool {
	for _, mv := range t.Moves {
		if mv.Op == id && mv.Keyspace == keyspace {
			return true
		}
	}
	return false
}
