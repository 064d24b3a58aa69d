package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

func TestClassifyStoreErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		reply    string
		sentinel error
		retry    bool
	}{
		{"ERR syntax error", ErrInvalid, false},
		{"TOOLARGE key of 70000 bytes", ErrTooLarge, false},
		{"BADTIME event time in the future", ErrBadTime, false},
		{"BADNAME keyspace a.b", ErrBadName, false},
		{"NOSHARD ks/3 is not held", nil, true},
		{"CLOSED store shutting down", nil, true},
		{"CATCHUP ks/3 is catching up", nil, true},
		{"IOERR disk full", nil, true},
		{"MOVED ks/0 holds shard 0 of 2", ErrMoved, true},
		{"CORRUPT bad record", nil, false},
		{"WHATEVER new code", nil, false},
	}
	for _, tc := range cases {
		err, retry := classify(ctx, errorReply(tc.reply), "s1", "127.0.0.1:7000")
		require.Equal(t, tc.retry, retry, tc.reply)
		var se *StoreError
		require.ErrorAs(t, err, &se, tc.reply)
		code, msg := wire.SplitError(tc.reply)
		require.Equal(t, code, se.Code)
		require.Equal(t, msg, se.Message)
		require.Equal(t, "s1", se.Store)
		require.Contains(t, err.Error(), "s1 (127.0.0.1:7000): "+tc.reply)
		for _, s := range []error{ErrInvalid, ErrTooLarge, ErrBadTime, ErrBadName, ErrNotFound, ErrUnavailable, ErrMoved} {
			require.Equal(t, errors.Is(tc.sentinel, s), errors.Is(err, s), "%s is %v", tc.reply, s)
		}
	}

	// Transport errors are retried.
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, errConnClosed, fmt.Errorf("dial tcp: %w", context.DeadlineExceeded)} {
		err, retry := classify(ctx, e, "s1", "a")
		require.True(t, retry, "%v", e)
		require.ErrorIs(t, err, e)
	}

	// The caller's context ending is final.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err, retry := classify(cctx, io.EOF, "s1", "a")
	require.False(t, retry)
	require.ErrorIs(t, err, context.Canceled)

	got, retry := classify(ctx, nil, "s1", "a")
	require.NoError(t, got)
	require.False(t, retry)
}

func TestAdminErrorMapping(t *testing.T) {
	remote := func(msg string) error {
		// The shape bus.Request returns.
		return fmt.Errorf("%w: %s: %s", bus.ErrRemote, "vasto.adm.dc1.keyspace-create", msg)
	}
	cases := []struct {
		msg      string
		code     string
		sentinel error
	}{
		{"EXISTS: keyspace users exists", topology.CodeExists, ErrKeyspaceExists},
		{"UNKNOWN: no keyspace users", topology.CodeUnknown, ErrUnknownKeyspace},
		{"NOSTORES: 3 replicas need 3 healthy stores, have 2", topology.CodeNotEnoughStore, ErrNotEnoughStores},
		{"INVALID: 0 shards", topology.CodeInvalid, ErrInvalid},
		{"BADNAME: keyspace \"a.b\"", topology.CodeBadName, ErrBadName},
		{"INTERNAL: could not publish", topology.CodeInternal, nil},
		{"BUSY: keyspace \"users\": resize operation 17 is running", topology.CodeBusy, ErrBusy},
		{"NOTFOUND: operation 99", topology.CodeNotFound, ErrNotFound},
		{"BUSYGROUP: x", "", nil},
		{"something else", "", nil},
		// A code-looking word inside the message does not count; the first
		// code that starts a segment does.
		{"INVALID: name UNKNOWN: x", topology.CodeInvalid, ErrInvalid},
		{"NOTEXISTS: x", "", nil},
	}
	for _, tc := range cases {
		err := mapAdminError(topology.OpCreateKeyspace, "dc1", remote(tc.msg))
		var ae *AdminError
		require.ErrorAs(t, err, &ae, tc.msg)
		require.Equal(t, tc.code, ae.Code, tc.msg)
		require.Equal(t, topology.OpCreateKeyspace, ae.Op)
		for _, s := range []error{ErrKeyspaceExists, ErrUnknownKeyspace, ErrNotEnoughStores, ErrInvalid, ErrBadName, ErrBusy, ErrNotFound} {
			require.Equal(t, errors.Is(tc.sentinel, s), errors.Is(err, s), "%s is %v", tc.msg, s)
		}
	}
	ae := parseAdminError("op", "EXISTS: keyspace users exists")
	require.Equal(t, "keyspace users exists", ae.Message)
	require.Equal(t, "client: master: op: EXISTS: keyspace users exists", ae.Error())

	err := mapAdminError("op", "dc1", fmt.Errorf("%w: vasto.adm.dc1.op", bus.ErrNoResponders))
	require.ErrorIs(t, err, ErrNoMaster)
	require.ErrorIs(t, err, bus.ErrNoResponders)
	require.ErrorIs(t, mapAdminError("op", "dc1", bus.ErrClosed), ErrClosed)
	require.ErrorIs(t, mapAdminError("op", "dc1", fmt.Errorf("bus: request x: %w", context.DeadlineExceeded)), context.DeadlineExceeded)
	require.NoError(t, mapAdminError("op", "dc1", nil))
}

func TestBatchErrorUnwrapsItems(t *testing.T) {
	e := &BatchError{Errs: []error{nil, fmt.Errorf("x: %w", ErrTooLarge), nil, &StoreError{Code: CodeBadTime}}}
	require.ErrorIs(t, e, ErrTooLarge)
	require.ErrorIs(t, e, ErrBadTime)
	require.NotErrorIs(t, e, ErrNotFound)
	require.Contains(t, e.Error(), "2 of 4 items failed; item 1")
	require.NoError(t, batchErr([]error{nil, nil}))
	require.Error(t, batchErr([]error{nil, io.EOF}))
}
