package master

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/topology"
)

// Tests of the online operations state machine (ops.go): resizes, replica
// moves and the operations that record them. Everything is driven through
// State's methods with explicit times, as the master drives it.

// opsState registers stores s1..sn at t0 and creates the keyspaces.
func opsState(t *testing.T, stores int, keyspaces ...topology.CreateKeyspaceRequest) *State {
	t.Helper()
	s := newTestState(t)
	beatAll(s, stores, t0)
	for _, req := range keyspaces {
		require.NoError(t, s.CreateKeyspace(req))
	}
	return s
}

// ksOf returns a copy of keyspace name.
func ksOf(t *testing.T, s *State, name string) *topology.Keyspace {
	t.Helper()
	ks, ok := s.Topology().Keyspaces[name]
	require.True(t, ok, "keyspace %q missing", name)
	return ks
}

// opOf returns a copy of operation id.
func opOf(t *testing.T, s *State, id uint64) *topology.Operation {
	t.Helper()
	op := s.Topology().Operation(id)
	require.NotNil(t, op, "operation %d missing", id)
	return op
}

// replica is one target shard replica of a resize.
type replica struct {
	store string
	shard uint32
}

// targetReplicas lists the target shard replicas of keyspace name's resize
// (Resize.Targets on the new placement), by store then shard.
func targetReplicas(t *testing.T, s *State, name string) []replica {
	t.Helper()
	ks := ksOf(t, s, name)
	require.NotNil(t, ks.Resize)
	placement := ks.Resize.NewPlacement(ks)
	var out []replica
	for _, sh := range ks.Resize.Targets() {
		for _, id := range placement[sh] {
			out = append(out, replica{id, sh})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].store != out[b].store {
			return out[a].store < out[b].store
		}
		return out[a].shard < out[b].shard
	})
	return out
}

// sendFills sends one heartbeat per store holding a target replica of
// keyspace name's resize, with the fills fill returns (none when ok is
// false), in store order. It returns the stores' heartbeats' results.
func sendFills(t *testing.T, s *State, name string, now int64, fill func(r replica) (topology.Fill, bool)) []bool {
	t.Helper()
	byStore := map[string][]topology.Fill{}
	var stores []string
	for _, r := range targetReplicas(t, s, name) {
		if _, seen := byStore[r.store]; !seen {
			stores = append(stores, r.store)
			byStore[r.store] = nil
		}
		if f, ok := fill(r); ok {
			byStore[r.store] = append(byStore[r.store], f)
		}
	}
	var changed []bool
	for _, id := range stores {
		h := hb(id)
		h.Fills = byStore[id]
		changed = append(changed, s.OnHeartbeat(h, now))
	}
	return changed
}

// fillAll reports every target replica of name's resize in phase.
func fillAll(t *testing.T, s *State, name string, phase string, now int64) {
	t.Helper()
	id := ksOf(t, s, name).Resize.ID
	sendFills(t, s, name, now, func(r replica) (topology.Fill, bool) {
		return topology.Fill{Shard: shardName(name, r.shard), Resize: id, Phase: phase}, true
	})
}

// TestStartResizeGrow grows a keyspace from 2 to 4 shards.
func TestStartResizeGrow(t *testing.T) {
	// "side" loads s1 and s2, so ks's shard 0 goes to s3, s4 and shard 1 to
	// s1, s2; the new shards then go to the least loaded stores first.
	s := opsState(t, 4, create("side", 1, 2), create("ks", 2, 2))
	before := s.Topology()
	old := before.Keyspaces["ks"]
	require.Equal(t, [][]string{{"s3", "s4"}, {"s1", "s2"}}, old.Placement)
	require.EqualValues(t, 6, old.Epoch)
	v := s.Version()

	now := t0 + 10
	op, err := s.StartResize("ks", 4, now)
	require.NoError(t, err)
	require.Equal(t, v+1, s.Version(), "one start, one version")
	require.Equal(t, &topology.Operation{ID: v + 1, Kind: topology.OpKindResize, Keyspace: "ks",
		State: topology.OpRunning, Detail: "2 -> 4 shards", Started: now}, op)
	require.Equal(t, op, opOf(t, s, op.ID))

	want, err := topology.Place([]string{"s1", "s2", "s3", "s4"}, before.Load(), 2, 2)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"s3", "s4"}, {"s1", "s2"}}, want, "s3, s4 were the least loaded")

	ks := ksOf(t, s, "ks")
	require.Equal(t, 2, ks.Shards, "clients still route by the old layout")
	require.Equal(t, old.Placement, ks.Placement)
	require.Equal(t, &topology.Resize{
		ID: op.ID, From: 2, To: 4, Phase: topology.PhaseCopy,
		Placement: append(slices.Clone(old.Placement), want...),
		Epochs:    []uint64{old.Epoch, old.Epoch, op.ID, op.ID},
		Started:   now,
	}, ks.Resize)
	require.Equal(t, []uint32{0, 1}, ks.Resize.Sources())
	require.Equal(t, []uint32{2, 3}, ks.Resize.Targets())
	for i := uint32(0); i < 4; i++ {
		wantEpoch := old.Epoch
		if i >= 2 {
			wantEpoch = op.ID
		}
		require.Equal(t, wantEpoch, ks.ShardEpoch(i), "shard %d", i)
	}
	require.True(t, s.Topology().Busy("ks"))
	require.False(t, s.Topology().Busy("side"))
	require.Equal(t, &topology.Progress{Phase: topology.PhaseCopy, Total: 4, Waiting: []string{
		"ks/2 on s3: not started", "ks/2 on s4: not started", "ks/3 on s1: not started", "ks/3 on s2: not started",
	}}, s.Progress(op.ID))

	// A second resize, or a plan for one, is refused while this one runs.
	v = s.Version()
	_, err = s.StartResize("ks", 8, now)
	require.ErrorIs(t, err, ErrBusy)
	require.Contains(t, err.Error(), fmt.Sprint(op.ID))
	_, err = s.ResizePlan("ks", 8)
	require.ErrorIs(t, err, ErrBusy)
	require.Equal(t, v, s.Version())
	// Other keyspaces are not busy.
	_, err = s.ResizePlan("side", 2)
	require.NoError(t, err)
}

func TestStartResizeErrors(t *testing.T) {
	s := opsState(t, 2, create("ks", 2, 2))
	v := s.Version()
	before := s.Topology()
	for _, tc := range []struct {
		name   string
		ks     string
		shards int
		want   error
	}{
		{"same shard count", "ks", 2, ErrInvalidRequest},
		{"zero shards", "ks", 0, ErrInvalidRequest},
		{"negative shards", "ks", -1, ErrInvalidRequest},
		{"too many shards", "ks", topology.MaxShards + 1, ErrInvalidRequest},
		{"unknown keyspace", "nope", 4, topology.ErrUnknownKeyspace},
		{"bad name", "a.b", 4, topology.ErrBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.StartResize(tc.ks, tc.shards, t0)
			require.ErrorIs(t, err, tc.want)
			_, err = s.ResizePlan(tc.ks, tc.shards)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, v, s.Version())
			require.Equal(t, before, s.Topology())
		})
	}

	// Not enough healthy stores for the new shards' replicas.
	s.OnHeartbeat(hb("s1"), t0+dead/2)
	require.True(t, s.Tick(t0+dead))
	v = s.Version()
	_, err := s.StartResize("ks", 4, t0+dead)
	require.ErrorIs(t, err, topology.ErrNotEnoughStores)
	require.Equal(t, v, s.Version())
	require.Empty(t, s.Topology().Ops)
	// A shrink places nothing, so it needs no healthy store.
	_, err = s.StartResize("ks", 1, t0+dead)
	require.NoError(t, err)
}

// TestResizeSwitchNeedsEveryTarget checks when a resize in the copy phase
// switches: only once every target replica reported a fill of this resize
// in phase tailing or later.
func TestResizeSwitchNeedsEveryTarget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fill     func(r replica, id uint64) (topology.Fill, bool)
		switches bool
	}{
		{"all tailing", func(r replica, id uint64) (topology.Fill, bool) {
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: topology.FillTailing}, true
		}, true},
		{"all drained", func(r replica, id uint64) (topology.Fill, bool) {
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: topology.FillDrained}, true
		}, true},
		{"tailing and drained", func(r replica, id uint64) (topology.Fill, bool) {
			phase := topology.FillTailing
			if r.store == "s1" {
				phase = topology.FillDrained
			}
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: phase}, true
		}, true},
		{"tailing with a retried error", func(r replica, id uint64) (topology.Fill, bool) {
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: topology.FillTailing, Error: "slow"}, true
		}, true},
		{"one missing", func(r replica, id uint64) (topology.Fill, bool) {
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: topology.FillTailing}, r != replica{"s2", 3}
		}, false},
		{"one still copying", func(r replica, id uint64) (topology.Fill, bool) {
			phase := topology.FillTailing
			if r == (replica{"s3", 2}) {
				phase = topology.FillCopying
			}
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: phase}, true
		}, false},
		{"one of an older resize", func(r replica, id uint64) (topology.Fill, bool) {
			if r == (replica{"s4", 2}) {
				id--
			}
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: topology.FillTailing}, true
		}, false},
		{"one of another shard", func(r replica, id uint64) (topology.Fill, bool) {
			sh := r.shard
			if r == (replica{"s1", 3}) {
				sh = 2 // s1 does not hold target shard 2
			}
			return topology.Fill{Shard: shardName("ks", sh), Resize: id, Phase: topology.FillTailing}, true
		}, false},
		{"one of another keyspace", func(r replica, id uint64) (topology.Fill, bool) {
			name := "ks"
			if r == (replica{"s1", 3}) {
				name = "side"
			}
			return topology.Fill{Shard: shardName(name, r.shard), Resize: id, Phase: topology.FillTailing}, true
		}, false},
		{"one in an unknown phase", func(r replica, id uint64) (topology.Fill, bool) {
			phase := topology.FillTailing
			if r == (replica{"s1", 3}) {
				phase = "bogus"
			}
			return topology.Fill{Shard: shardName("ks", r.shard), Resize: id, Phase: phase}, true
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := opsState(t, 4, create("side", 1, 2), create("ks", 2, 2))
			old := ksOf(t, s, "ks")
			op, err := s.StartResize("ks", 4, t0+10)
			require.NoError(t, err)
			r := ksOf(t, s, "ks").Resize
			require.Equal(t, []replica{{"s1", 3}, {"s2", 3}, {"s3", 2}, {"s4", 2}}, targetReplicas(t, s, "ks"))
			v := s.Version()

			now := t0 + 20
			changed := sendFills(t, s, "ks", now, func(r replica) (topology.Fill, bool) { return tc.fill(r, op.ID) })
			ks := ksOf(t, s, "ks")
			if !tc.switches {
				require.Equal(t, []bool{false, false, false, false}, changed, "fills alone change nothing")
				require.Equal(t, v, s.Version())
				require.Equal(t, topology.PhaseCopy, ks.Resize.Phase)
				require.Equal(t, old.Placement, ks.Placement)
				require.Equal(t, 2, ks.Shards)
				p := s.Progress(op.ID)
				require.Equal(t, 3, p.Done)
				require.Equal(t, 4, p.Total)
				require.Len(t, p.Waiting, 1)
				return
			}
			require.Equal(t, []bool{false, false, false, true}, changed, "the last target's beat switches")
			require.Equal(t, v+1, s.Version(), "the switch is one version")
			require.Equal(t, 4, ks.Shards)
			require.Equal(t, r.Placement, ks.Placement)
			require.Equal(t, old.Placement, ks.Resize.Placement)
			require.Equal(t, []uint64{old.Epoch, old.Epoch}, ks.Resize.Epochs)
			require.Equal(t, []uint64{old.Epoch, old.Epoch, op.ID, op.ID}, ks.ShardEpochs)
			require.Equal(t, topology.PhaseSwitched, ks.Resize.Phase)
			require.Equal(t, s.Version(), ks.Resize.Switched)
			require.Equal(t, op.ID, ks.Resize.ID)
			require.Equal(t, r.Placement, ks.Resize.NewPlacement(ks))
			require.Equal(t, old.Epoch, ks.ShardEpoch(0))
			require.Equal(t, old.Epoch, ks.ShardEpoch(1))
			require.Equal(t, op.ID, ks.ShardEpoch(2))
			require.Equal(t, op.ID, ks.ShardEpoch(3))
			require.Equal(t, topology.OpRunning, opOf(t, s, op.ID).State)
			require.Equal(t, []event{{kind: evResize, store: "ks", addr: "switched to 4 shards"}}, resizeEvents(s))
		})
	}
}

// resizeEvents returns the resize and operation events taken from s.
func resizeEvents(s *State) []event {
	var out []event
	for _, e := range s.takeEvents() {
		if e.kind == evResize || e.kind == evOpDone {
			out = append(out, e)
		}
	}
	return out
}

// TestResizeGrowToTheEnd runs a grow from start to end.
func TestResizeGrowToTheEnd(t *testing.T) {
	s := opsState(t, 4, create("side", 1, 2), create("ks", 2, 2))
	epoch := ksOf(t, s, "ks").Epoch
	op, err := s.StartResize("ks", 4, t0+10)
	require.NoError(t, err)
	newPlacement := ksOf(t, s, "ks").Resize.Placement

	fillAll(t, s, "ks", topology.FillCopying, t0+20)
	require.Equal(t, topology.PhaseCopy, ksOf(t, s, "ks").Resize.Phase)
	fillAll(t, s, "ks", topology.FillTailing, t0+30)
	require.Equal(t, topology.PhaseSwitched, ksOf(t, s, "ks").Resize.Phase)
	switched := s.Version()
	s.takeEvents()

	// After the switch, tailing is not enough: every target must drain.
	fillAll(t, s, "ks", topology.FillTailing, t0+40)
	require.Equal(t, switched, s.Version())
	p := s.Progress(op.ID)
	require.Equal(t, topology.PhaseSwitched, p.Phase)
	require.Equal(t, 0, p.Done)
	require.Equal(t, 4, p.Total)

	// All but one drained.
	sendFills(t, s, "ks", t0+50, func(r replica) (topology.Fill, bool) {
		phase := topology.FillDrained
		if r == (replica{"s4", 2}) {
			phase = topology.FillTailing
		}
		return topology.Fill{Shard: shardName("ks", r.shard), Resize: op.ID, Phase: phase}, true
	})
	require.Equal(t, switched, s.Version())
	require.NotNil(t, ksOf(t, s, "ks").Resize)
	require.Equal(t, 3, s.Progress(op.ID).Done)
	_, err = s.CancelResize("ks", t0+55)
	require.ErrorIs(t, err, ErrInvalidRequest, "a switched resize can only finish")
	require.Equal(t, switched, s.Version())

	// A drained fill of an older resize does not count.
	h := hb("s4")
	h.Fills = []topology.Fill{{Shard: "ks/2", Resize: op.ID - 1, Phase: topology.FillDrained}}
	require.False(t, s.OnHeartbeat(h, t0+58))

	end := t0 + 60
	h.Fills = []topology.Fill{{Shard: "ks/2", Resize: op.ID, Phase: topology.FillDrained}}
	require.True(t, s.OnHeartbeat(h, end))
	require.Equal(t, switched+1, s.Version(), "the end is one version")
	ks := ksOf(t, s, "ks")
	require.Nil(t, ks.Resize)
	require.Equal(t, 4, ks.Shards)
	require.Equal(t, newPlacement, ks.Placement)
	require.Equal(t, []uint64{epoch, epoch, op.ID, op.ID}, ks.ShardEpochs, "the new shards keep their epoch")
	require.Equal(t, op.ID, ks.ShardEpoch(3))
	require.Equal(t, &topology.Operation{ID: op.ID, Kind: topology.OpKindResize, Keyspace: "ks",
		State: topology.OpDone, Detail: "2 -> 4 shards", Started: t0 + 10, Finished: end}, opOf(t, s, op.ID))
	require.Nil(t, s.Progress(op.ID), "no progress for a finished operation")
	require.False(t, s.Topology().Busy("ks"))
	require.Equal(t, []event{{kind: evOpDone, store: topology.OpKindResize,
		addr: fmt.Sprintf("%d done: 2 -> 4 shards", op.ID)}}, resizeEvents(s))

	// Late reports change nothing; the keyspace can be resized again.
	require.False(t, s.OnHeartbeat(h, end+1))
	require.Equal(t, switched+1, s.Version())
	_, err = s.StartResize("ks", 3, end+2)
	require.NoError(t, err)
	require.Equal(t, []uint64{epoch, epoch, op.ID}, ksOf(t, s, "ks").Resize.Epochs)
}

// TestResizeShrink shrinks a keyspace from 4 to 2 shards.
func TestResizeShrink(t *testing.T) {
	s := opsState(t, 4, create("ks", 4, 2))
	old := ksOf(t, s, "ks")
	v := s.Version()
	op, err := s.StartResize("ks", 2, t0+10)
	require.NoError(t, err)
	require.Equal(t, v+1, s.Version())
	r := ksOf(t, s, "ks").Resize
	require.Equal(t, []uint32{2, 3}, r.Sources())
	require.Equal(t, []uint32{0, 1}, r.Targets())
	require.True(t, r.IsTarget(0))
	require.False(t, r.IsTarget(2))
	require.Equal(t, old.Placement[:2], r.Placement, "the remaining shards stay where they are")
	require.Equal(t, []uint64{old.Epoch, old.Epoch}, r.Epochs)
	require.Equal(t, 4, ksOf(t, s, "ks").Shards)

	var want []replica
	for _, sh := range []uint32{0, 1} {
		for _, id := range old.Placement[sh] {
			want = append(want, replica{id, sh})
		}
	}
	require.ElementsMatch(t, want, targetReplicas(t, s, "ks"))

	fillAll(t, s, "ks", topology.FillTailing, t0+20)
	require.Equal(t, v+2, s.Version())
	ks := ksOf(t, s, "ks")
	require.Equal(t, 2, ks.Shards)
	require.Equal(t, old.Placement[:2], ks.Placement)
	require.Equal(t, topology.PhaseSwitched, ks.Resize.Phase)
	require.Equal(t, old.Placement, ks.Resize.Placement, "the removed shards are kept until the end")
	require.Equal(t, []uint64{old.Epoch, old.Epoch, old.Epoch, old.Epoch}, ks.Resize.Epochs)
	require.Equal(t, old.Epoch, ks.ShardEpoch(3), "a removed shard is looked up in the old layout")
	require.Equal(t, v+2, ks.Resize.Switched)
	// The removed shards' stores are still part of the published topology.
	require.Len(t, ks.Resize.Placement, 4)

	fillAll(t, s, "ks", topology.FillDrained, t0+30)
	require.Equal(t, v+3, s.Version())
	ks = ksOf(t, s, "ks")
	require.Nil(t, ks.Resize)
	require.Equal(t, 2, ks.Shards)
	require.Nil(t, ks.ShardEpochs, "no shard has an epoch of its own")
	require.Equal(t, topology.OpDone, opOf(t, s, op.ID).State)
	require.Equal(t, t0+30, opOf(t, s, op.ID).Finished)
}

// TestResizeShrinkKeepsResizedShardEpochs: a shrink that keeps a shard a
// previous grow added keeps that shard's epoch.
func TestResizeShrinkKeepsResizedShardEpochs(t *testing.T) {
	s := opsState(t, 2, create("ks", 2, 1))
	epoch := ksOf(t, s, "ks").Epoch
	grow, err := s.StartResize("ks", 4, t0+1)
	require.NoError(t, err)
	fillAll(t, s, "ks", topology.FillTailing, t0+2)
	fillAll(t, s, "ks", topology.FillDrained, t0+3)
	require.Equal(t, []uint64{epoch, epoch, grow.ID, grow.ID}, ksOf(t, s, "ks").ShardEpochs)

	shrink, err := s.StartResize("ks", 3, t0+4)
	require.NoError(t, err)
	require.Equal(t, []uint64{epoch, epoch, grow.ID}, ksOf(t, s, "ks").Resize.Epochs)
	fillAll(t, s, "ks", topology.FillTailing, t0+5)
	ks := ksOf(t, s, "ks")
	require.Equal(t, grow.ID, ks.ShardEpoch(3), "the removed shard keeps its epoch in the old layout")
	fillAll(t, s, "ks", topology.FillDrained, t0+6)
	ks = ksOf(t, s, "ks")
	require.Nil(t, ks.Resize)
	require.Equal(t, []uint64{epoch, epoch, grow.ID}, ks.ShardEpochs)
	require.Equal(t, topology.OpDone, opOf(t, s, shrink.ID).State)

	// Back to 2: no shard has its own epoch any more.
	_, err = s.StartResize("ks", 2, t0+7)
	require.NoError(t, err)
	fillAll(t, s, "ks", topology.FillTailing, t0+8)
	fillAll(t, s, "ks", topology.FillDrained, t0+9)
	require.Nil(t, ksOf(t, s, "ks").ShardEpochs)
}

func TestCancelResize(t *testing.T) {
	for _, tc := range []struct {
		name string
		from int
		to   int
	}{
		{"grow", 2, 4},
		{"shrink", 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := opsState(t, 4, create("ks", tc.from, 2))
			before := ksOf(t, s, "ks")
			op, err := s.StartResize("ks", tc.to, t0+10)
			require.NoError(t, err)
			// Some targets are done already; it does not matter.
			sendFills(t, s, "ks", t0+15, func(r replica) (topology.Fill, bool) {
				return topology.Fill{Shard: shardName("ks", r.shard), Resize: op.ID, Phase: topology.FillTailing}, r.store != "s4"
			})
			require.Equal(t, topology.PhaseCopy, ksOf(t, s, "ks").Resize.Phase)
			s.takeEvents()

			v := s.Version()
			got, err := s.CancelResize("ks", t0+20)
			require.NoError(t, err)
			require.Equal(t, v+1, s.Version())
			require.Equal(t, before, ksOf(t, s, "ks"), "the keyspace is as it was")
			want := &topology.Operation{ID: op.ID, Kind: topology.OpKindResize, Keyspace: "ks", State: topology.OpCancelled,
				Detail:  fmt.Sprintf("%d -> %d shards cancelled before the switch", tc.from, tc.to),
				Started: t0 + 10, Finished: t0 + 20}
			require.Equal(t, want, got)
			require.Equal(t, want, opOf(t, s, op.ID))
			require.False(t, s.Topology().Busy("ks"))
			require.Equal(t, []event{{kind: evOpDone, store: topology.OpKindResize,
				addr: fmt.Sprintf("%d cancelled: %s", op.ID, want.Detail)}}, resizeEvents(s))

			// The missing target reporting late changes nothing.
			h := hb("s4")
			for sh := 0; sh < max(tc.from, tc.to); sh++ {
				h.Fills = append(h.Fills, topology.Fill{Shard: shardName("ks", uint32(sh)), Resize: op.ID, Phase: topology.FillTailing})
			}
			require.False(t, s.OnHeartbeat(h, t0+25))
			require.Equal(t, before, ksOf(t, s, "ks"))

			// Nothing to cancel any more.
			_, err = s.CancelResize("ks", t0+30)
			require.ErrorIs(t, err, ErrInvalidRequest)
			require.Equal(t, v+1, s.Version())

			// A new resize may start.
			_, err = s.StartResize("ks", tc.to, t0+40)
			require.NoError(t, err)
		})
	}
}

func TestCancelResizeErrors(t *testing.T) {
	s := opsState(t, 4, create("ks", 2, 2), create("idle", 1, 1))
	_, err := s.StartResize("ks", 4, t0+1)
	require.NoError(t, err)
	fillAll(t, s, "ks", topology.FillTailing, t0+2)
	require.Equal(t, topology.PhaseSwitched, ksOf(t, s, "ks").Resize.Phase)
	v := s.Version()
	before := s.Topology()
	for _, tc := range []struct {
		name string
		ks   string
		want error
	}{
		{"switched", "ks", ErrInvalidRequest},
		{"no resize", "idle", ErrInvalidRequest},
		{"unknown", "nope", topology.ErrUnknownKeyspace},
		{"bad name", "x*", topology.ErrBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := s.CancelResize(tc.ks, t0+3)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, op)
			require.Equal(t, v, s.Version())
			require.Equal(t, before, s.Topology())
		})
	}
}

func TestResizePlan(t *testing.T) {
	s := opsState(t, 4, create("side", 1, 2), create("ks", 2, 2))
	// ks/0 is on s3, s4 and ks/1 on s1, s2. Replicas may report different
	// sizes: the plan takes the largest. A store that does not hold the
	// shard is not asked.
	sizes := map[string]map[string]topology.ShardSize{
		"s1": {"ks/1": {Keys: 400, Bytes: 4000}, "side/0": {Keys: 7, Bytes: 70}},
		"s2": {"ks/1": {Keys: 396, Bytes: 3960}},
		"s3": {"ks/0": {Keys: 800, Bytes: 16000}, "ks/1": {Keys: 1 << 30, Bytes: 1 << 40}},
		"s4": {"ks/0": {Keys: 799, Bytes: 15980}},
	}
	v := s.Version()
	for _, id := range []string{"s1", "s2", "s3", "s4"} {
		h := hb(id)
		h.Sizes = sizes[id]
		require.False(t, s.OnHeartbeat(h, t0+1), "sizes alone change nothing")
	}
	// Sizes come with some heartbeats only: a beat without them keeps them.
	for _, id := range []string{"s1", "s2", "s3", "s4"} {
		require.False(t, s.OnHeartbeat(hb(id), t0+2))
	}
	require.Equal(t, v, s.Version())
	before := s.Topology()

	plan, err := s.ResizePlan("ks", 4)
	require.NoError(t, err)
	require.Equal(t, v, s.Version(), "a plan changes nothing")
	require.Equal(t, before, s.Topology())
	require.Empty(t, s.Topology().Ops)

	require.Equal(t, []uint32{2, 3}, plan.Created)
	require.Empty(t, plan.Removed)
	newShards := [][]string{{"s3", "s4"}, {"s1", "s2"}}
	step := func(from, to uint32, keys, bytes uint64) topology.PlanStep {
		return topology.PlanStep{Keyspace: "ks", FromShard: from, ToShard: to,
			FromStores: before.Keyspaces["ks"].Placement[from], ToStores: newShards[to-2],
			Keys: keys, Bytes: bytes, Description: fmt.Sprintf("shard %d -> shard %d", from, to)}
	}
	require.Equal(t, []topology.PlanStep{
		step(0, 2, 200, 4000), step(0, 3, 200, 4000),
		step(1, 2, 100, 1000), step(1, 3, 100, 1000),
	}, plan.Steps)
	require.EqualValues(t, 600, plan.Keys, "growing 2 -> 4 moves half of the keys")
	require.EqualValues(t, 10000, plan.Bytes)

	// The plan names the stores the resize then uses.
	_, err = s.StartResize("ks", 4, t0+3)
	require.NoError(t, err)
	require.Equal(t, newShards, ksOf(t, s, "ks").Resize.Placement[2:])
}

func TestResizePlanShrink(t *testing.T) {
	s := opsState(t, 4, create("ks", 4, 1))
	pl := ksOf(t, s, "ks").Placement
	for i, reps := range pl {
		h := hb(reps[0])
		h.Sizes = map[string]topology.ShardSize{shardName("ks", uint32(i)): {Keys: uint64(90 * (i + 1)), Bytes: uint64(900 * (i + 1))}}
		s.OnHeartbeat(h, t0+1)
	}
	v := s.Version()
	plan, err := s.ResizePlan("ks", 3)
	require.NoError(t, err)
	require.Equal(t, v, s.Version())
	require.Empty(t, plan.Created)
	require.Equal(t, []uint32{3}, plan.Removed)
	require.Len(t, plan.Steps, 3)
	for i, st := range plan.Steps {
		require.EqualValues(t, 3, st.FromShard)
		require.EqualValues(t, i, st.ToShard)
		require.Equal(t, pl[3], st.FromStores)
		require.Equal(t, pl[i], st.ToStores)
		require.EqualValues(t, 120, st.Keys, "a third of the removed shard to each remaining one")
		require.EqualValues(t, 1200, st.Bytes)
	}
	require.EqualValues(t, 360, plan.Keys, "every key of a removed shard moves")

	// Without reports the estimates are zero, not an error.
	s2 := opsState(t, 2, create("ks", 2, 1))
	plan, err = s2.ResizePlan("ks", 1)
	require.NoError(t, err)
	require.Equal(t, []uint32{1}, plan.Removed)
	require.Len(t, plan.Steps, 1)
	require.Zero(t, plan.Keys)
}

// movesState: s1..s3 hold ks (3 shards, 2 replicas) as
// [[s1 s2] [s3 s1] [s2 s3]], and s4 (and s5 with five stores) joined
// afterwards, holding nothing.
func movesState(t *testing.T, stores int) *State {
	t.Helper()
	s := opsState(t, 3, create("ks", 3, 2))
	require.Equal(t, [][]string{{"s1", "s2"}, {"s3", "s1"}, {"s2", "s3"}}, ksOf(t, s, "ks").Placement)
	for i := 4; i <= stores; i++ {
		s.OnHeartbeat(hb(fmt.Sprintf("s%d", i)), t0)
	}
	return s
}

// serve sends store's heartbeat listing serving.
func serve(s *State, store string, now int64, serving ...string) bool {
	return s.OnHeartbeat(hb(store, serving...), now)
}

func TestReplaceLiveStore(t *testing.T) {
	s := movesState(t, 4)
	v := s.Version()
	before := s.Topology()
	moves, err := s.ReplacePlan("s1", "s4")
	require.NoError(t, err)
	require.Equal(t, []*topology.Move{
		{Keyspace: "ks", Shard: 0, From: "s1", To: "s4"},
		{Keyspace: "ks", Shard: 1, From: "s1", To: "s4"},
	}, moves)
	require.Equal(t, v, s.Version(), "a plan changes nothing")
	require.Equal(t, before, s.Topology())

	start := t0 + 10
	op, err := s.StartMoves(topology.OpKindReplace, "", "s1", "s4", moves, start)
	require.NoError(t, err)
	require.Equal(t, v+1, s.Version())
	require.Equal(t, &topology.Operation{ID: v + 1, Kind: topology.OpKindReplace, Store: "s1", Target: "s4",
		State: topology.OpRunning, Detail: "2 replica moves", Moves: 2, Started: start}, op)
	top := s.Topology()
	require.Equal(t, [][]string{{"s1", "s2", "s4"}, {"s3", "s1", "s4"}, {"s2", "s3"}}, top.Keyspaces["ks"].Placement,
		"the new replica is added last, the old one stays while it fills")
	require.Equal(t, []*topology.Move{
		{Keyspace: "ks", Shard: 0, From: "s1", To: "s4", Op: op.ID},
		{Keyspace: "ks", Shard: 1, From: "s1", To: "s4", Op: op.ID},
	}, top.Moves)
	require.True(t, top.Busy("ks"))
	require.Equal(t, &topology.Progress{Phase: "moving", Total: 2,
		Waiting: []string{"ks/0 s1 -> s4: filling", "ks/1 s1 -> s4: filling"}}, s.Progress(op.ID))

	// Another store's beat, or s4 serving something else, completes nothing.
	serve(s, "s2", t0+20, "ks/0", "ks/2")
	serve(s, "s4", t0+20, "ks/2")
	require.Len(t, s.Topology().Moves, 2)
	s.takeEvents()

	// s4 serves ks/0: it takes s1's place there, the preferred position.
	v = s.Version()
	require.True(t, serve(s, "s4", t0+30, "ks/0"))
	require.Equal(t, v+1, s.Version())
	top = s.Topology()
	require.Equal(t, [][]string{{"s4", "s2"}, {"s3", "s1", "s4"}, {"s2", "s3"}}, top.Keyspaces["ks"].Placement)
	require.Equal(t, []*topology.Move{{Keyspace: "ks", Shard: 1, From: "s1", To: "s4", Op: op.ID}}, top.Moves)
	require.Equal(t, topology.OpRunning, top.Operation(op.ID).State)
	require.Equal(t, &topology.Progress{Phase: "moving", Done: 1, Total: 2,
		Waiting: []string{"ks/1 s1 -> s4: filling"}}, s.Progress(op.ID))
	require.Equal(t, []event{{kind: evMoveDone, store: "s4", addr: "ks/0 s1 -> s4"}}, s.takeEvents())

	// And ks/1, where s1 was second.
	end := t0 + 40
	require.True(t, serve(s, "s4", end, "ks/0", "ks/1"))
	require.Equal(t, v+2, s.Version())
	top = s.Topology()
	require.Equal(t, [][]string{{"s4", "s2"}, {"s3", "s4"}, {"s2", "s3"}}, top.Keyspaces["ks"].Placement)
	require.Empty(t, top.Moves)
	require.Empty(t, top.ShardsOf("s1"))
	require.Equal(t, &topology.Operation{ID: op.ID, Kind: topology.OpKindReplace, Store: "s1", Target: "s4",
		State: topology.OpDone, Detail: "2 replica moves", Moves: 2, Started: start, Finished: end}, top.Operation(op.ID))
	require.False(t, top.Busy("ks"))
	require.Nil(t, s.Progress(op.ID))

	// s4 beating again changes nothing.
	require.False(t, serve(s, "s4", end+1, "ks/0", "ks/1"))
	require.Equal(t, v+2, s.Version())
}

func TestReplaceDeadStore(t *testing.T) {
	s := movesState(t, 4)
	for _, id := range []string{"s2", "s3", "s4"} {
		s.OnHeartbeat(hb(id), t0+dead/2)
	}
	require.True(t, s.Tick(t0+dead))
	require.False(t, s.Topology().Stores["s1"].Healthy)

	moves, err := s.ReplacePlan("s1", "s4")
	require.NoError(t, err)
	require.Len(t, moves, 2)
	v := s.Version()
	op, err := s.StartMoves(topology.OpKindReplace, "", "s1", "s4", moves, t0+dead)
	require.NoError(t, err)
	require.Equal(t, v+1, s.Version())
	top := s.Topology()
	require.Equal(t, [][]string{{"s4", "s2"}, {"s3", "s4"}, {"s2", "s3"}}, top.Keyspaces["ks"].Placement,
		"a dead replica is replaced in place at once")
	require.Len(t, top.Moves, 2, "the moves last until the new replica serves")
	require.Equal(t, topology.OpRunning, top.Operation(op.ID).State)

	require.True(t, serve(s, "s4", t0+dead+1, "ks/1"))
	require.Len(t, s.Topology().Moves, 1)
	require.True(t, serve(s, "s4", t0+dead+2, "ks/0", "ks/1"))
	top = s.Topology()
	require.Empty(t, top.Moves)
	require.Equal(t, [][]string{{"s4", "s2"}, {"s3", "s4"}, {"s2", "s3"}}, top.Keyspaces["ks"].Placement)
	require.Equal(t, topology.OpDone, top.Operation(op.ID).State)
	require.Equal(t, t0+dead+2, top.Operation(op.ID).Finished)

	// s1 comes back: it holds nothing any more.
	serve(s, "s1", t0+dead+3)
	require.Empty(t, s.Topology().ShardsOf("s1"))
}

func TestReplaceDeadStoreWithTheOnlyReplica(t *testing.T) {
	// "solo" has one replica per shard; one of them on s1.
	s := opsState(t, 3, create("ks", 3, 2), create("solo", 3, 1))
	solo := ksOf(t, s, "solo").Placement
	require.Contains(t, solo, []string{"s1"})
	s.OnHeartbeat(hb("s4"), t0)
	for _, id := range []string{"s2", "s3", "s4"} {
		s.OnHeartbeat(hb(id), t0+dead/2)
	}
	require.True(t, s.Tick(t0+dead))
	v := s.Version()
	for _, target := range []string{"s4", ""} {
		moves, err := s.ReplacePlan("s1", target)
		require.ErrorIs(t, err, topology.ErrNotEnoughStores, "target %q", target)
		require.Contains(t, err.Error(), "only replica")
		require.Nil(t, moves)
	}
	require.Equal(t, v, s.Version())

	// Alive, its only replicas can move: they fill from s1 itself.
	require.True(t, serve(s, "s1", t0+dead+1))
	moves, err := s.ReplacePlan("s1", "s4")
	require.NoError(t, err)
	require.NotEmpty(t, moves)
}

func TestReplaceErrors(t *testing.T) {
	s := movesState(t, 5)
	// s5 dies.
	for _, id := range []string{"s1", "s2", "s3", "s4"} {
		s.OnHeartbeat(hb(id), t0+dead/2)
	}
	require.True(t, s.Tick(t0+dead))
	v := s.Version()
	before := s.Topology()
	for _, tc := range []struct {
		name          string
		store, target string
		want          error
	}{
		{"unknown store", "s9", "s4", ErrNotFound},
		{"unknown store drained", "s9", "", ErrNotFound},
		{"unknown target", "s1", "s9", ErrNotFound},
		{"dead target", "s1", "s5", ErrNotFound},
		{"itself", "s1", "s1", ErrInvalidRequest},
		{"target holds a shard", "s1", "s2", ErrInvalidRequest},
		{"target holds another shard", "s1", "s3", ErrInvalidRequest},
		{"bad store name", "s.1", "s4", topology.ErrBadName},
		{"bad target name", "s1", "s*", topology.ErrBadName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moves, err := s.ReplacePlan(tc.store, tc.target)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, moves)
			require.Equal(t, v, s.Version())
			require.Equal(t, before, s.Topology())
		})
	}

	// A store holding nothing has nothing to move, and StartMoves refuses
	// an empty list.
	moves, err := s.ReplacePlan("s4", "s5")
	require.ErrorIs(t, err, ErrNotFound, "the target must be healthy even with nothing to move")
	require.Nil(t, moves)
	moves, err = s.ReplacePlan("s4", "")
	require.NoError(t, err)
	require.Empty(t, moves)
	_, err = s.StartMoves(topology.OpKindDrain, "", "s4", "", moves, t0+dead)
	require.ErrorIs(t, err, ErrInvalidRequest)
	require.Equal(t, v, s.Version())
	require.Empty(t, s.Topology().Ops)
}

func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stores int
		kill   string // a store that dies before the drain
		want   []string
	}{
		// s4 then s5: the least loaded (0), then the next least loaded
		// once s4 took one.
		{"spread", 5, "", []string{"s4", "s5"}},
		// s5 is dead: both go to s4, the only healthy store holding
		// neither shard.
		{"healthy only", 5, "s5", []string{"s4", "s4"}},
		// Without new stores: s3 for ks/0 (it does not hold it), s2 for
		// ks/1.
		{"existing stores", 3, "", []string{"s3", "s2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := movesState(t, tc.stores)
			if tc.kill != "" {
				for i := 1; i <= tc.stores; i++ {
					if id := fmt.Sprintf("s%d", i); id != tc.kill {
						s.OnHeartbeat(hb(id), t0+dead/2)
					}
				}
				require.True(t, s.Tick(t0+dead))
			}
			top := s.Topology()
			moves, err := s.ReplacePlan("s1", "")
			require.NoError(t, err)
			require.Len(t, moves, 2)
			var got []string
			for i, m := range moves {
				require.Equal(t, "s1", m.From)
				require.EqualValues(t, i, m.Shard)
				require.NotContains(t, top.Keyspaces["ks"].Placement[m.Shard], m.To)
				require.True(t, top.Stores[m.To].Healthy)
				got = append(got, m.To)
			}
			require.Equal(t, tc.want, got)

			op, err := s.StartMoves(topology.OpKindDrain, "", "s1", "", moves, t0+dead+1)
			require.NoError(t, err)
			require.Equal(t, topology.OpKindDrain, op.Kind)
			for _, m := range moves {
				serve(s, m.To, t0+dead+2, shardName(m.Keyspace, m.Shard))
			}
			require.Empty(t, s.Topology().Moves)
			require.Empty(t, s.Topology().ShardsOf("s1"))
			require.Equal(t, topology.OpDone, opOf(t, s, op.ID).State)
			for _, reps := range ksOf(t, s, "ks").Placement {
				require.Len(t, reps, 2)
				require.NotEqual(t, reps[0], reps[1])
			}
		})
	}

	// Nowhere to go: every other healthy store holds the shard.
	s := opsState(t, 2, create("ks", 2, 2))
	_, err := s.ReplacePlan("s1", "")
	require.ErrorIs(t, err, topology.ErrNotEnoughStores)
}

// storeSpread is max-min of the load of the healthy stores.
func storeSpread(top *topology.Topology) int {
	load := top.Load()
	lo, hi := -1, -1
	for id, st := range top.Stores {
		if !st.Healthy {
			continue
		}
		if lo < 0 || load[id] < lo {
			lo = load[id]
		}
		hi = max(hi, load[id])
	}
	return hi - lo
}

// completeMoves has every move's target report its shards served.
func completeMoves(t *testing.T, s *State, now int64) {
	t.Helper()
	serving := map[string][]string{}
	var ids []string
	for _, m := range s.Topology().Moves {
		if _, ok := serving[m.To]; !ok {
			ids = append(ids, m.To)
		}
		serving[m.To] = append(serving[m.To], shardName(m.Keyspace, m.Shard))
	}
	for _, id := range ids {
		serve(s, id, now, serving[id]...)
	}
	require.Empty(t, s.Topology().Moves)
}

func TestRebalance(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		stores, added            int
		shards, replicas, rounds int
	}{
		{"2+2 stores, 8x2", 2, 2, 8, 2, 1},
		{"1+3 stores, 4x1", 1, 3, 4, 1, 1},
		{"3+1 stores, 6x2", 3, 1, 6, 2, 1},
		{"2+1 stores, 5x1", 2, 1, 5, 1, 1},
		// 18 replicas over 6 stores need 9 moves, more than the 6 shards
		// allow at once: a second round finishes the job.
		{"3+3 stores, 6x3", 3, 3, 6, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := opsState(t, tc.stores, create("ks", tc.shards, tc.replicas))
			for i := tc.stores + 1; i <= tc.stores+tc.added; i++ {
				s.OnHeartbeat(hb(fmt.Sprintf("s%d", i)), t0)
			}
			now := t0 + 1
			for round := 1; round <= tc.rounds; round++ {
				top := s.Topology()
				v := s.Version()
				moves, err := s.RebalancePlan("ks")
				require.NoError(t, err)
				require.NotEmpty(t, moves, "round %d", round)
				require.Equal(t, v, s.Version(), "a plan changes nothing")
				require.Equal(t, top, s.Topology())

				shards := map[uint32]bool{}
				for _, m := range moves {
					require.False(t, shards[m.Shard], "two moves of shard %d", m.Shard)
					shards[m.Shard] = true
					require.Equal(t, "ks", m.Keyspace)
					require.Contains(t, top.Keyspaces["ks"].Placement[m.Shard], m.From)
					require.NotContains(t, top.Keyspaces["ks"].Placement[m.Shard], m.To)
				}

				op, err := s.StartMoves(topology.OpKindRebalance, "ks", "", "", moves, now)
				require.NoError(t, err)
				require.Equal(t, v+1, s.Version())
				_, err = s.RebalancePlan("ks")
				require.ErrorIs(t, err, ErrBusy, "one operation at a time")
				completeMoves(t, s, now+1)
				require.Equal(t, topology.OpDone, opOf(t, s, op.ID).State)
				now += 2
			}
			top := s.Topology()
			require.LessOrEqual(t, storeSpread(top), 1, "load %v", top.Load())
			for _, reps := range top.Keyspaces["ks"].Placement {
				require.Len(t, reps, tc.replicas)
				require.Len(t, slices.Compact(slices.Sorted(slices.Values(reps))), tc.replicas, "distinct replicas")
			}

			// Balanced: nothing more to do.
			moves, err := s.RebalancePlan("ks")
			require.NoError(t, err)
			require.Empty(t, moves)
		})
	}
}

func TestRebalanceErrors(t *testing.T) {
	s := opsState(t, 2, create("ks", 2, 1))
	moves, err := s.RebalancePlan("ks")
	require.NoError(t, err)
	require.Empty(t, moves, "balanced from the start")
	_, err = s.RebalancePlan("nope")
	require.ErrorIs(t, err, topology.ErrUnknownKeyspace)
	_, err = s.RebalancePlan("a.b")
	require.ErrorIs(t, err, topology.ErrBadName)
	require.True(t, s.Tick(t0+dead))
	_, err = s.RebalancePlan("ks")
	require.ErrorIs(t, err, topology.ErrNotEnoughStores)
}

// TestOperationsExcludeEachOther: a keyspace runs one operation at a time.
func TestOperationsExcludeEachOther(t *testing.T) {
	// "other" goes to s4, the least loaded; s5 replaces s1.
	s := movesState(t, 5)
	require.NoError(t, s.CreateKeyspace(create("other", 1, 1)))
	require.Equal(t, [][]string{{"s4"}}, ksOf(t, s, "other").Placement)
	moves, err := s.ReplacePlan("s1", "s5")
	require.NoError(t, err)
	op, err := s.StartMoves(topology.OpKindReplace, "", "s1", "s5", moves, t0+1)
	require.NoError(t, err)
	v := s.Version()

	_, err = s.StartResize("ks", 4, t0+2)
	require.ErrorIs(t, err, ErrBusy)
	require.Contains(t, err.Error(), fmt.Sprintf("replace operation %d", op.ID))
	_, err = s.ResizePlan("ks", 4)
	require.ErrorIs(t, err, ErrBusy)
	_, err = s.RebalancePlan("ks")
	require.ErrorIs(t, err, ErrBusy)
	_, err = s.ReplacePlan("s2", "")
	require.ErrorIs(t, err, ErrBusy, "s2 holds shards of ks")
	_, err = s.ReplacePlan("s5", "")
	require.ErrorIs(t, err, ErrBusy, "s5 holds new replicas of ks")
	require.Equal(t, v, s.Version())
	// Another keyspace is free.
	_, err = s.ReplacePlan("s4", "")
	require.NoError(t, err)
	resize, err := s.StartResize("other", 2, t0+3)
	require.NoError(t, err)

	// And the other way round: the store holding the keyspace being
	// resized cannot be replaced.
	_, err = s.ReplacePlan("s4", "")
	require.ErrorIs(t, err, ErrBusy)
	require.Contains(t, err.Error(), fmt.Sprintf("resize operation %d", resize.ID))
}

func TestDeleteKeyspaceDuringResize(t *testing.T) {
	for _, switched := range []bool{false, true} {
		t.Run(fmt.Sprintf("switched=%v", switched), func(t *testing.T) {
			s := opsState(t, 4, create("ks", 2, 2))
			op, err := s.StartResize("ks", 4, t0+1)
			require.NoError(t, err)
			if switched {
				fillAll(t, s, "ks", topology.FillTailing, t0+2)
				require.Equal(t, topology.PhaseSwitched, ksOf(t, s, "ks").Resize.Phase)
			}
			v := s.Version()
			require.NoError(t, s.DeleteKeyspace("ks", t0+3))
			require.Equal(t, v+1, s.Version())
			top := s.Topology()
			require.Empty(t, top.Keyspaces)
			got := top.Operation(op.ID)
			require.Equal(t, topology.OpCancelled, got.State)
			require.Equal(t, "keyspace deleted", got.Detail)
			require.Equal(t, t0+3, got.Finished)
			require.Nil(t, s.Progress(op.ID))

			// Late fills of the deleted keyspace change nothing, and a new
			// keyspace of the same name is not resized.
			require.NoError(t, s.CreateKeyspace(create("ks", 2, 2)))
			v = s.Version()
			for _, id := range []string{"s1", "s2", "s3", "s4"} {
				h := hb(id)
				for sh := uint32(0); sh < 4; sh++ {
					h.Fills = append(h.Fills, topology.Fill{Shard: shardName("ks", sh), Resize: op.ID, Phase: topology.FillDrained})
				}
				require.False(t, s.OnHeartbeat(h, t0+4))
			}
			require.Equal(t, v, s.Version())
			require.Nil(t, ksOf(t, s, "ks").Resize)
		})
	}
}

func TestDeleteKeyspaceDuringMoves(t *testing.T) {
	// s1 holds shards of ks and of other; replacing it moves both.
	s := movesState(t, 4)
	require.NoError(t, s.CreateKeyspace(create("other", 1, 3)))
	require.Equal(t, [][]string{{"s1", "s2", "s4"}}, ksOf(t, s, "other").Placement)
	require.NoError(t, s.CreateKeyspace(create("bystander", 2, 1)))
	moves, err := s.ReplacePlan("s2", "s3")
	require.ErrorIs(t, err, ErrInvalidRequest, "s3 holds ks/1")
	require.Nil(t, moves)

	moves, err = s.ReplacePlan("s1", "")
	require.NoError(t, err)
	replace, err := s.StartMoves(topology.OpKindDrain, "", "s1", "", moves, t0+1)
	require.NoError(t, err)
	require.Len(t, s.Topology().MovesOf("ks"), 2)
	require.Len(t, s.Topology().MovesOf("other"), 1)

	// Deleting other drops its move; the drain goes on with ks's.
	v := s.Version()
	require.NoError(t, s.DeleteKeyspace("other", t0+2))
	require.Equal(t, v+1, s.Version())
	top := s.Topology()
	require.Empty(t, top.MovesOf("other"))
	require.Len(t, top.MovesOf("ks"), 2)
	require.Equal(t, topology.OpRunning, top.Operation(replace.ID).State)

	// Deleting ks drops the rest: the drain ends.
	require.NoError(t, s.DeleteKeyspace("ks", t0+3))
	require.Equal(t, v+2, s.Version())
	top = s.Topology()
	require.Empty(t, top.Moves)
	got := top.Operation(replace.ID)
	require.Equal(t, topology.OpDone, got.State)
	require.Equal(t, t0+3, got.Finished)
	require.Nil(t, s.Progress(replace.ID))
	// The targets serving late change nothing else.
	for _, m := range moves {
		serve(s, m.To, t0+4, shardName(m.Keyspace, m.Shard))
	}
	require.Empty(t, s.Topology().Moves)
	require.Equal(t, []string{"bystander"}, s.Topology().KeyspaceNames())
}

func TestDeleteKeyspaceDuringRebalance(t *testing.T) {
	s := opsState(t, 1, create("ks", 4, 1))
	beatAll(s, 3, t0)
	moves, err := s.RebalancePlan("ks")
	require.NoError(t, err)
	require.Len(t, moves, 2)
	op, err := s.StartMoves(topology.OpKindRebalance, "ks", "", "", moves, t0+1)
	require.NoError(t, err)
	require.NoError(t, s.DeleteKeyspace("ks", t0+2))
	top := s.Topology()
	require.Empty(t, top.Moves)
	require.Equal(t, topology.OpDone, top.Operation(op.ID).State)
	require.Equal(t, t0+2, top.Operation(op.ID).Finished)
}

func TestFinishedOpsBounded(t *testing.T) {
	s := opsState(t, 4, create("long", 2, 1), create("ks", 1, 1))
	long, err := s.StartResize("long", 3, t0)
	require.NoError(t, err)
	var finished []uint64
	now := t0
	for i := 0; i < topology.MaxFinishedOps+5; i++ {
		now++
		op, err := s.StartResize("ks", 2, now)
		require.NoError(t, err)
		_, err = s.CancelResize("ks", now)
		require.NoError(t, err)
		finished = append(finished, op.ID)

		ops := s.Topology().Ops
		require.Equal(t, long.ID, ops[0].ID, "a running operation is never forgotten")
		require.Equal(t, topology.OpRunning, ops[0].State)
		kept := min(len(finished), topology.MaxFinishedOps)
		require.Len(t, ops, 1+kept)
		var ids []uint64
		for _, op := range ops[1:] {
			require.Equal(t, topology.OpCancelled, op.State)
			ids = append(ids, op.ID)
		}
		require.Equal(t, finished[len(finished)-kept:], ids, "the oldest finished ones go first")
	}
	require.Nil(t, s.Topology().Operation(finished[0]))
	require.Nil(t, s.Topology().Operation(finished[4]))
	require.NotNil(t, s.Topology().Operation(finished[5]))

	// The running one finishes: the finished ones stay bounded.
	fillAll(t, s, "long", topology.FillTailing, now+1)
	fillAll(t, s, "long", topology.FillDrained, now+2)
	ops := s.Topology().Ops
	require.Len(t, ops, topology.MaxFinishedOps)
	for _, op := range ops {
		require.NotEqual(t, topology.OpRunning, op.State)
	}
}

// onlineStats counts what a random run went through, so the test knows it
// exercised the operations.
type onlineStats struct {
	steps, resizesDone, resizesCancelled, switches, movesStarted, movesDone int
}

// runRandomOnlineOps drives a state with random heartbeats (with fills,
// sizes and serving lists), ticks and admin operations, and checks the
// invariants of the online operations after every step.
func runRandomOnlineOps(t *testing.T, seed uint64) (*State, onlineStats) {
	r := rand.New(rand.NewPCG(seed, seed*7919))
	s := newTestState(t)
	var stats onlineStats
	now := t0
	accept := func(err error, allowed ...error) {
		t.Helper()
		if err == nil {
			return
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return
			}
		}
		require.Fail(t, "unexpected error", "seed %d: %v", seed, err)
	}
	for i := 0; i < 400; i++ {
		now += r.Int64N(dead / 3)
		before := s.Topology()
		name := fmt.Sprintf("ks%d", r.IntN(3))
		var changed bool
		switch op := r.IntN(20); {
		case op < 9:
			changed = s.OnHeartbeat(randomBeat(r, before, fmt.Sprintf("s%d", 1+r.IntN(6))), now)
		case op < 10:
			changed = s.Tick(now)
		case op < 12:
			err := s.CreateKeyspace(topology.CreateKeyspaceRequest{Name: name, Shards: 1 + r.IntN(5), Replicas: 1 + r.IntN(3)})
			accept(err, ErrKeyspaceExists, topology.ErrNotEnoughStores)
			changed = err == nil
		case op < 13:
			err := s.DeleteKeyspace(name, now)
			accept(err, topology.ErrUnknownKeyspace)
			changed = err == nil
		case op < 15:
			shards := 1 + r.IntN(6)
			_, perr := s.ResizePlan(name, shards)
			require.Equal(t, before, s.Topology(), "seed %d: a plan changed the topology", seed)
			_, err := s.StartResize(name, shards, now)
			require.Equal(t, fmt.Sprint(perr), fmt.Sprint(err), "seed %d: the plan and the start disagree", seed)
			accept(err, topology.ErrUnknownKeyspace, ErrInvalidRequest, ErrBusy, topology.ErrNotEnoughStores)
			changed = err == nil
		case op < 16 && r.IntN(2) == 0:
			_, err := s.CancelResize(name, now)
			accept(err, topology.ErrUnknownKeyspace, ErrInvalidRequest)
			changed = err == nil
			if changed {
				stats.resizesCancelled++
			}
		case op < 18:
			store, target := fmt.Sprintf("s%d", 1+r.IntN(7)), ""
			if r.IntN(2) == 0 {
				target = fmt.Sprintf("s%d", 1+r.IntN(7))
			}
			moves, err := s.ReplacePlan(store, target)
			require.Equal(t, before, s.Topology(), "seed %d: a plan changed the topology", seed)
			accept(err, ErrNotFound, ErrInvalidRequest, ErrBusy, topology.ErrNotEnoughStores)
			if err == nil && len(moves) > 0 {
				_, err = s.StartMoves(topology.OpKindReplace, "", store, target, moves, now)
				require.NoError(t, err)
				changed = true
				stats.movesStarted += len(moves)
			}
		default:
			moves, err := s.RebalancePlan(name)
			require.Equal(t, before, s.Topology(), "seed %d: a plan changed the topology", seed)
			accept(err, topology.ErrUnknownKeyspace, ErrBusy, topology.ErrNotEnoughStores)
			if err == nil && len(moves) > 0 {
				_, err = s.StartMoves(topology.OpKindRebalance, name, "", "", moves, now)
				require.NoError(t, err)
				changed = true
				stats.movesStarted += len(moves)
			}
		}
		after := s.Topology()
		if changed {
			require.Equal(t, before.Version+1, after.Version, "seed %d step %d", seed, i)
			require.False(t, sameContent(before, after), "seed %d step %d: reported a change but nothing changed", seed, i)
		} else {
			require.Equal(t, before.Version, after.Version, "seed %d step %d", seed, i)
			require.True(t, sameContent(before, after), "seed %d step %d: changed without reporting it", seed, i)
		}
		checkOnlineInvariants(t, before, after, &stats)
		stats.steps++
	}
	return s, stats
}

// randomBeat is a heartbeat of store: mostly honest (it serves what it
// holds and reports the fills of its resize targets), sometimes not.
func randomBeat(r *rand.Rand, top *topology.Topology, store string) topology.Heartbeat {
	h := hb(store)
	honest := r.IntN(4) != 0
	for _, name := range top.KeyspaceNames() {
		ks := top.Keyspaces[name]
		for i, reps := range ks.Placement {
			if slices.Contains(reps, store) && (honest || r.IntN(2) == 0) {
				h.Serving = append(h.Serving, shardName(name, uint32(i)))
			}
		}
		if rz := ks.Resize; rz != nil {
			placement := rz.NewPlacement(ks)
			for _, sh := range rz.Targets() {
				if !slices.Contains(placement[sh], store) || r.IntN(10) == 0 {
					continue
				}
				phases := []string{topology.FillCopying, topology.FillTailing, topology.FillTailing, topology.FillTailing}
				if rz.Phase == topology.PhaseSwitched {
					phases = []string{topology.FillTailing, topology.FillDrained, topology.FillDrained, topology.FillDrained}
				}
				id := rz.ID
				if r.IntN(12) == 0 {
					id-- // a fill of an older resize
				}
				h.Fills = append(h.Fills, topology.Fill{Shard: shardName(name, sh), Resize: id, Phase: phases[r.IntN(len(phases))]})
			}
		}
		if r.IntN(3) == 0 {
			h.Sizes = map[string]topology.ShardSize{shardName(name, 0): {Keys: r.Uint64N(1000), Bytes: r.Uint64N(100000)}}
		}
	}
	return h
}

// checkOnlineInvariants checks a topology after a step from before.
func checkOnlineInvariants(t *testing.T, before, after *topology.Topology, stats *onlineStats) {
	t.Helper()
	// It survives publishing.
	doc, err := after.Encode()
	require.NoError(t, err)
	decoded, err := topology.Decode(doc)
	require.NoError(t, err)
	require.True(t, sameContent(after, decoded))
	require.Equal(t, after.Version, decoded.Version)

	opsByKeyspace := map[string]uint64{}
	for _, m := range after.Moves {
		op := after.Operation(m.Op)
		require.NotNil(t, op, "move %s of a forgotten operation", m)
		require.Equal(t, topology.OpRunning, op.State, "move %s of a finished operation", m)
		require.NotEqual(t, topology.OpKindResize, op.Kind)
		ks, ok := after.Keyspaces[m.Keyspace]
		require.True(t, ok, "move %s of a deleted keyspace", m)
		if ks.Resize != nil {
			// Only a store that was down may be replaced during a
			// resize, and only once it switched.
			require.Equal(t, topology.PhaseSwitched, ks.Resize.Phase, "move %s during a resize's copy", m)
		}
		if id, ok := opsByKeyspace[m.Keyspace]; ok {
			require.Equal(t, id, m.Op, "two operations move replicas of %s", m.Keyspace)
		}
		opsByKeyspace[m.Keyspace] = m.Op
		require.Contains(t, ks.Placement[m.Shard], m.To, "move %s: the new replica is placed", m)
	}
	for name, ks := range after.Keyspaces {
		require.Len(t, ks.Placement, ks.Shards)
		for i, reps := range ks.Placement {
			require.Len(t, slices.Compact(slices.Sorted(slices.Values(reps))), len(reps), "%s/%d: %v twice", name, i, reps)
			extra := 0
			for _, m := range after.MovesOf(name) {
				if int(m.Shard) == i && slices.Contains(reps, m.From) {
					extra++
				}
			}
			require.Len(t, reps, ks.Replicas+extra, "%s/%d: %v", name, i, reps)
		}
		if rz := ks.Resize; rz != nil {
			op := after.Operation(rz.ID)
			require.NotNil(t, op)
			require.Equal(t, topology.OpRunning, op.State)
			require.Equal(t, topology.OpKindResize, op.Kind)
			require.Equal(t, name, op.Keyspace)
			require.Len(t, rz.Epochs, len(rz.Placement))
			if rz.Phase == topology.PhaseSwitched {
				if b := before.Keyspaces[name]; b != nil && b.Resize != nil && b.Resize.Phase == topology.PhaseCopy {
					require.Equal(t, after.Version, rz.Switched)
					stats.switches++
				}
				for _, sh := range rz.Targets() {
					if int(sh) >= rz.From {
						require.Equal(t, rz.ID, ks.ShardEpoch(sh))
					}
				}
			}
		}
	}
	finished := 0
	for i, op := range after.Ops {
		if i > 0 {
			require.Less(t, after.Ops[i-1].ID, op.ID, "operations oldest first")
		}
		switch {
		case op.State != topology.OpRunning:
			finished++
			require.NotZero(t, op.Finished)
			if b := before.Operation(op.ID); b != nil && b.State == topology.OpRunning {
				if op.State == topology.OpDone && op.Kind == topology.OpKindResize {
					stats.resizesDone++
				}
			}
		case op.Kind == topology.OpKindResize:
			ks := after.Keyspaces[op.Keyspace]
			require.True(t, ks != nil && ks.Resize != nil && ks.Resize.ID == op.ID, "running resize %d without its keyspace's resize", op.ID)
		default:
			require.True(t, slices.ContainsFunc(after.Moves, func(m *topology.Move) bool { return m.Op == op.ID }),
				"running operation %d without moves", op.ID)
		}
	}
	require.LessOrEqual(t, finished, topology.MaxFinishedOps)
	for _, m := range before.Moves {
		if !slices.ContainsFunc(after.Moves, func(a *topology.Move) bool { return *a == *m }) {
			stats.movesDone++
		}
	}
}

// TestOnlineOpsDeterministicAndConsistent: the same calls on two states give
// the same topology, and every step keeps the operations consistent.
func TestOnlineOpsDeterministicAndConsistent(t *testing.T) {
	seeds := uint64(8)
	if testing.Short() {
		seeds = 2
	}
	var total onlineStats
	for seed := uint64(1); seed <= seeds; seed++ {
		a, st := runRandomOnlineOps(t, seed)
		b, _ := runRandomOnlineOps(t, seed)
		ea, err := a.Topology().Encode()
		require.NoError(t, err)
		eb, err := b.Topology().Encode()
		require.NoError(t, err)
		require.Equal(t, string(ea), string(eb), "seed %d: not deterministic", seed)
		require.Equal(t, a.Topology(), b.Topology())
		total.steps += st.steps
		total.resizesDone += st.resizesDone
		total.resizesCancelled += st.resizesCancelled
		total.switches += st.switches
		total.movesStarted += st.movesStarted
		total.movesDone += st.movesDone
	}
	t.Logf("random runs: %+v", total)
	require.NotZero(t, total.switches)
	require.NotZero(t, total.resizesDone)
	require.NotZero(t, total.resizesCancelled)
	require.NotZero(t, total.movesStarted)
	require.NotZero(t, total.movesDone)
}

// TestMovesFinishWithFullOpsHistory: a move operation that ends while
// topology.MaxFinishedOps finished operations are recorded, and is not the
// last operation recorded, crashes the master. advanceMoves ranges over
// s.topo.Ops and calls finishOp, which forgets the oldest finished
// operation with slices.Delete: that shifts the slice being ranged over and
// nils its last element, which advanceMoves then dereferences
// (op.State on a nil *Operation). The move stays in the published
// topology, so a restarted master panics again on the next heartbeat of the
// new replica.
func TestMovesFinishWithFullOpsHistory(t *testing.T) {
	for _, tc := range []struct {
		name      string
		runAfter  bool // a running operation started after the moves, else a finished one
		viaDelete bool // the moves end because their keyspace is deleted
	}{
		{"finished op after, served", false, false},
		{"running op after, served", true, false},
		{"finished op after, deleted", false, true},
		{"running op after, deleted", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := movesState(t, 4)
			require.NoError(t, s.CreateKeyspace(create("hist", 1, 1)))
			cycles := topology.MaxFinishedOps
			if !tc.runAfter {
				cycles--
			}
			for i := 0; i < cycles; i++ {
				_, err := s.StartResize("hist", 2, t0+int64(i))
				require.NoError(t, err)
				_, err = s.CancelResize("hist", t0+int64(i))
				require.NoError(t, err)
			}
			moves, err := s.ReplacePlan("s1", "s4")
			require.NoError(t, err)
			op, err := s.StartMoves(topology.OpKindReplace, "", "s1", "s4", moves, t0+100)
			require.NoError(t, err)
			_, err = s.StartResize("hist", 2, t0+101)
			require.NoError(t, err)
			if !tc.runAfter {
				_, err = s.CancelResize("hist", t0+101)
				require.NoError(t, err)
			}
			require.NotPanics(t, func() {
				if tc.viaDelete {
					require.NoError(t, s.DeleteKeyspace("ks", t0+102))
				} else {
					serve(s, "s4", t0+102, "ks/0", "ks/1")
				}
			})
			top := s.Topology()
			require.Empty(t, top.Moves)
			require.Equal(t, topology.OpDone, top.Operation(op.ID).State)
			finished := 0
			for _, o := range top.Ops {
				require.NotNil(t, o)
				if o.State != topology.OpRunning {
					finished++
				}
			}
			require.Equal(t, topology.MaxFinishedOps, finished)
		})
	}
}

// TestTopologyRoundTripKeepsOperations: the published document keeps every
// part of the running and finished operations, and a master restarted from
// it carries them on to the same end.
func TestTopologyRoundTripKeepsOperations(t *testing.T) {
	top := topology.New("dc1")
	top.ID = "incarnation-7"
	s, err := NewState(top, t0)
	require.NoError(t, err)
	beatAll(s, 2, t0)
	require.NoError(t, s.CreateKeyspace(create("mv", 8, 1)))
	s.OnHeartbeat(hb("s3"), t0)
	s.OnHeartbeat(hb("s4"), t0)
	require.NoError(t, s.CreateKeyspace(create("ks", 2, 2)))
	// mv: a rebalance running (s1 and s2 hold 4 replicas, s3 and s4 2).
	moves, err := s.RebalancePlan("mv")
	require.NoError(t, err)
	require.Len(t, moves, 2)
	rebalance, err := s.StartMoves(topology.OpKindRebalance, "mv", "", "", moves, t0+1)
	require.NoError(t, err)
	require.NoError(t, s.CreateKeyspace(create("x", 1, 1)))

	// x: a resize done (its new shard keeps an epoch), one cancelled.
	done, err := s.StartResize("x", 2, t0+1)
	require.NoError(t, err)
	fillAll(t, s, "x", topology.FillTailing, t0+2)
	fillAll(t, s, "x", topology.FillDrained, t0+3)
	cancelled, err := s.StartResize("x", 3, t0+4)
	require.NoError(t, err)
	_, err = s.CancelResize("x", t0+5)
	require.NoError(t, err)
	// ks: a resize switched.
	resize, err := s.StartResize("ks", 4, t0+7)
	require.NoError(t, err)
	fillAll(t, s, "ks", topology.FillTailing, t0+8)

	want := s.Topology()
	require.Equal(t, "incarnation-7", want.ID)
	require.NotNil(t, want.Keyspaces["ks"].Resize)
	require.Equal(t, topology.PhaseSwitched, want.Keyspaces["ks"].Resize.Phase)
	require.NotEmpty(t, want.Keyspaces["ks"].Resize.Epochs)
	require.NotEmpty(t, want.Keyspaces["ks"].ShardEpochs)
	require.Equal(t, []uint64{want.Keyspaces["x"].Epoch, done.ID}, want.Keyspaces["x"].ShardEpochs)
	require.Len(t, want.Moves, 2)
	require.Equal(t, []string{topology.OpDone, topology.OpCancelled, topology.OpRunning, topology.OpRunning},
		[]string{want.Operation(done.ID).State, want.Operation(cancelled.ID).State,
			want.Operation(rebalance.ID).State, want.Operation(resize.ID).State})

	doc, err := want.Encode()
	require.NoError(t, err)
	got, err := topology.Decode(doc)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, want, got.Clone())

	// A master restarted from the document resumes the operations: the
	// same reports end them the same way.
	r, err := NewState(got, t0+9)
	require.NoError(t, err)
	require.Equal(t, want, r.Topology())
	for _, st := range []*State{s, r} {
		fillAll(t, st, "ks", topology.FillDrained, t0+10)
		completeMoves(t, st, t0+11)
	}
	require.Equal(t, s.Topology(), r.Topology())
	end := r.Topology()
	require.Nil(t, end.Keyspaces["ks"].Resize)
	require.Equal(t, topology.OpDone, end.Operation(resize.ID).State)
	require.Equal(t, topology.OpDone, end.Operation(rebalance.ID).State)
	require.Equal(t, "incarnation-7", end.ID)
}

// TestOperationVisibleWhenItEnds: an operation that ends is what a waiter
// (vasto op wait) looks for, so it must stay recorded at least until newer
// operations end. finishOp instead forgets the finished operations that
// started first: a long resize that ends after topology.MaxFinishedOps
// shorter operations ended is forgotten the moment it ends, and op-get
// answers NOTFOUND instead of done.
func TestOperationVisibleWhenItEnds(t *testing.T) {
	s := opsState(t, 2, create("long", 1, 1), create("ks", 1, 1))
	long, err := s.StartResize("long", 2, t0)
	require.NoError(t, err)
	for i := 0; i < topology.MaxFinishedOps; i++ {
		_, err := s.StartResize("ks", 2, t0+1)
		require.NoError(t, err)
		_, err = s.CancelResize("ks", t0+1)
		require.NoError(t, err)
	}
	fillAll(t, s, "long", topology.FillTailing, t0+2)
	fillAll(t, s, "long", topology.FillDrained, t0+3)
	require.Nil(t, ksOf(t, s, "long").Resize)
	op := s.Topology().Operation(long.ID)
	require.NotNil(t, op, "the resize that just ended is forgotten")
	require.Equal(t, topology.OpDone, op.State)
}

// TestReplaceStoreHoldingResizeTargets: ErrBusy is documented for "an
// operation started on a keyspace (or a store holding one) that has another
// operation running", but ReplacePlan only looks at the routed placement
// (Topology.ShardsOf): a store that holds only target replicas of a resize
// in the copy phase is reported as holding nothing (the admin then answers
// "holds no shard replica"), and a replace or drain of it is not refused.
// An operator who then retires the store leaves the resize waiting forever
// for its fills.
func TestReplaceStoreHoldingResizeTargets(t *testing.T) {
	s := opsState(t, 2, create("ks", 1, 1))
	require.Equal(t, [][]string{{"s1"}}, ksOf(t, s, "ks").Placement)
	s.OnHeartbeat(hb("s3"), t0)
	_, err := s.StartResize("ks", 2, t0+1)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"s1"}, {"s2"}}, ksOf(t, s, "ks").Resize.Placement)

	for _, target := range []string{"s3", ""} {
		moves, err := s.ReplacePlan("s2", target)
		require.ErrorIs(t, err, ErrBusy, "s2 holds ks/1 of the resize; got moves %v", moves)
	}
}

// TestDeadTargetAfterSwitchCanBeReplaced: once a resize switched, it can
// only finish, and it finishes only when every target replica reports
// FillDrained. If a store holding a target replica dies for good after the
// switch, nothing gets the keyspace out: CancelResize refuses (switched),
// and replacing or draining the dead store, or rebalancing, is refused with
// ErrBusy because the keyspace is being resized. Only deleting the keyspace
// ends the resize.
func TestDeadTargetAfterSwitchCanBeReplaced(t *testing.T) {
	s := opsState(t, 5, create("ks", 2, 2))
	_, err := s.StartResize("ks", 4, t0+1)
	require.NoError(t, err)
	fillAll(t, s, "ks", topology.FillTailing, t0+2)
	ks := ksOf(t, s, "ks")
	require.Equal(t, topology.PhaseSwitched, ks.Resize.Phase)
	victim := ks.Placement[3][0]
	for _, id := range s.Topology().StoreIDs() {
		if id != victim {
			s.OnHeartbeat(hb(id), t0+dead)
		}
	}
	require.True(t, s.Tick(t0+dead+2))

	_, err = s.CancelResize("ks", t0+dead+2)
	require.ErrorIs(t, err, ErrInvalidRequest)
	moves, err := s.ReplacePlan(victim, "")
	require.NoError(t, err, "the dead target store cannot be replaced")
	require.NotEmpty(t, moves)
}

// TestReplaceRetiresDeadStore: a replace of a store that is down removes
// it from the topology once its replicas moved; a live one stays.
func TestReplaceRetiresDeadStore(t *testing.T) {
	s := opsState(t, 3, create("ks", 1, 2))
	victim := ksOf(t, s, "ks").Placement[0][0]
	spare := ""
	for _, id := range s.Topology().StoreIDs() {
		if !slices.Contains(ksOf(t, s, "ks").Placement[0], id) {
			spare = id
		}
	}
	for _, id := range s.Topology().StoreIDs() {
		if id != victim {
			s.OnHeartbeat(hb(id), t0+dead)
		}
	}
	require.True(t, s.Tick(t0+dead+1))
	moves, err := s.ReplacePlan(victim, spare)
	require.NoError(t, err)
	op, err := s.StartMoves(topology.OpKindReplace, "", victim, spare, moves, t0+dead+1)
	require.NoError(t, err)
	require.Contains(t, s.Topology().Stores, victim, "kept until the move is done")
	s.OnHeartbeat(hb(spare, "ks/0"), t0+dead+2)
	top := s.Topology()
	require.Equal(t, topology.OpDone, top.Operation(op.ID).State)
	require.NotContains(t, top.Stores, victim)
	require.Contains(t, top.Operation(op.ID).Detail, victim+" retired")
}

// TestMoveIgnoresStaleServing: a store that lists a shard as served in a
// heartbeat sent under a topology older than the move (it still held a copy
// that was leaving it) does not complete the move.
func TestMoveIgnoresStaleServing(t *testing.T) {
	s := opsState(t, 3, create("ks", 1, 1))
	from := ksOf(t, s, "ks").Placement[0][0]
	to := ""
	for _, id := range s.Topology().StoreIDs() {
		if id != from {
			to = id
			break
		}
	}
	moves, err := s.ReplacePlan(from, to)
	require.NoError(t, err)
	op, err := s.StartMoves(topology.OpKindReplace, "", from, to, moves, t0+1)
	require.NoError(t, err)
	stale := hb(to, "ks/0")
	stale.Version = op.ID - 1
	s.OnHeartbeat(stale, t0+2)
	require.Equal(t, topology.OpRunning, s.Topology().Operation(op.ID).State)
	s.OnHeartbeat(hb(to, "ks/0"), t0+3)
	require.Equal(t, topology.OpDone, s.Topology().Operation(op.ID).State)
}
