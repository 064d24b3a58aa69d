package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/topology"
)

// polls returns a poll function answering the replies (or errors) in turn,
// the last one forever, and the number of polls made.
func polls(answers ...any) (func(context.Context) (topology.OpReply, error), *int) {
	n := new(int)
	return func(context.Context) (topology.OpReply, error) {
		a := answers[min(*n, len(answers)-1)]
		*n++
		if err, ok := a.(error); ok {
			return topology.OpReply{}, err
		}
		return a.(topology.OpReply), nil
	}, n
}

func opReply(state string, done, total int) topology.OpReply {
	return topology.OpReply{
		Operation: &topology.Operation{ID: 17, Kind: topology.OpKindResize, Keyspace: "users", State: state, Detail: "1 -> 2 shards"},
		Progress:  &topology.Progress{Phase: topology.PhaseCopy, Done: done, Total: total},
	}
}

func TestWaitOperationPollsUntilDone(t *testing.T) {
	poll, n := polls(opReply(topology.OpRunning, 0, 2), opReply(topology.OpRunning, 1, 2), opReply(topology.OpDone, 2, 2))
	var seen []int
	r, err := waitOperation(context.Background(), 17, time.Millisecond, poll,
		func(r topology.OpReply) { seen = append(seen, r.Progress.Done) }, hclog.NewNullLogger())
	require.NoError(t, err)
	require.Equal(t, topology.OpDone, r.Operation.State)
	require.Equal(t, 3, *n)
	require.Equal(t, []int{0, 1, 2}, seen, "progress sees every reply, the last one too")
}

func TestWaitOperationCancelled(t *testing.T) {
	poll, _ := polls(opReply(topology.OpRunning, 0, 2), opReply(topology.OpCancelled, 0, 2))
	r, err := waitOperation(context.Background(), 17, time.Millisecond, poll, nil, hclog.NewNullLogger())
	require.ErrorIs(t, err, ErrCancelled)
	require.Contains(t, err.Error(), "resize operation 17: 1 -> 2 shards")
	require.Equal(t, topology.OpCancelled, r.Operation.State, "the final reply comes with the error")
}

func TestWaitOperationRidesOutTransientErrors(t *testing.T) {
	noMaster := fmt.Errorf("%w: no master answers", ErrNoMaster)
	timeout := fmt.Errorf("client: op-get: %w", context.DeadlineExceeded)
	internal := &AdminError{Op: topology.OpGetOperation, Code: topology.CodeInternal, Message: "could not publish"}
	poll, n := polls(opReply(topology.OpRunning, 0, 1), noMaster, timeout, internal, opReply(topology.OpDone, 1, 1))
	r, err := waitOperation(context.Background(), 17, time.Millisecond, poll, nil, hclog.NewNullLogger())
	require.NoError(t, err)
	require.Equal(t, topology.OpDone, r.Operation.State)
	require.Equal(t, 5, *n)
}

func TestWaitOperationStopsOnFinalErrors(t *testing.T) {
	notFound := &AdminError{Op: topology.OpGetOperation, Code: topology.CodeNotFound, Message: "operation 17"}
	poll, n := polls(opReply(topology.OpRunning, 0, 1), notFound)
	r, err := waitOperation(context.Background(), 17, time.Millisecond, poll, nil, hclog.NewNullLogger())
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, 2, *n)
	require.Equal(t, topology.OpRunning, r.Operation.State, "the last reply seen")

	poll, _ = polls(topology.OpReply{})
	_, err = waitOperation(context.Background(), 17, time.Millisecond, poll, nil, hclog.NewNullLogger())
	require.ErrorContains(t, err, "reply without operation 17")

	poll, _ = polls(opReply("exploded", 0, 1))
	_, err = waitOperation(context.Background(), 17, time.Millisecond, poll, nil, hclog.NewNullLogger())
	require.ErrorContains(t, err, `ended "exploded"`)
}

func TestWaitOperationEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	noMaster := fmt.Errorf("%w: no master answers", ErrNoMaster)
	poll, _ := polls(opReply(topology.OpRunning, 0, 1), noMaster)
	start := time.Now()
	r, err := waitOperation(ctx, 17, 5*time.Millisecond, poll, nil, hclog.NewNullLogger())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ErrNoMaster, "the last failed poll is wrapped too")
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, topology.OpRunning, r.Operation.State)
}

func TestOperationArgumentsAreCheckedLocally(t *testing.T) {
	c := testClient(t, topology.New("dc1")) // no NATS: anything sent would fail
	ctx := context.Background()
	_, err := c.ResizeKeyspace(ctx, "bad.name", 2, true)
	require.ErrorIs(t, err, ErrBadName)
	for _, n := range []int{0, -1, topology.MaxShards + 1} {
		_, err = c.ResizeKeyspace(ctx, "users", n, false)
		require.ErrorIs(t, err, ErrInvalid, "%d shards", n)
	}
	_, err = c.CancelResize(ctx, "")
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.Rebalance(ctx, "a b", true)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.ReplaceStore(ctx, "s1", "s1", false)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = c.ReplaceStore(ctx, "s1", "", false)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.DrainStore(ctx, "s/1", false)
	require.ErrorIs(t, err, ErrBadName)
	_, err = c.Operation(ctx, 0)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = c.WaitOperation(ctx, 0, 0, nil)
	require.ErrorIs(t, err, ErrInvalid)

	require.NoError(t, c.Close())
	_, err = c.Operation(ctx, 3)
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.WaitOperation(ctx, 3, time.Millisecond, nil)
	require.ErrorIs(t, err, ErrClosed, "a closed client is not a transient failure")
}

func TestOpErrorsFromTheMaster(t *testing.T) {
	remote := func(op, msg string) error {
		return fmt.Errorf("%w: vasto.adm.dc1.%s: %s", bus.ErrRemote, op, msg)
	}
	err := mapAdminError(topology.OpResizeKeyspace, "dc1",
		remote(topology.OpResizeKeyspace, `BUSY: master: operation running: keyspace "users": resize operation 17 is running`))
	require.ErrorIs(t, err, ErrBusy)
	var ae *AdminError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, topology.CodeBusy, ae.Code)
	require.Contains(t, ae.Message, "resize operation 17 is running")

	err = mapAdminError(topology.OpGetOperation, "dc1", remote(topology.OpGetOperation, "NOTFOUND: master: not found: operation 99"))
	require.ErrorIs(t, err, ErrNotFound)
	require.NotErrorIs(t, err, ErrBusy)
}
