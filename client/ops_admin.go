package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vasto-kv/vasto/topology"
)

// Online operations: resizing a keyspace, replacing or draining a store,
// rebalancing a keyspace. The master starts them and records them in the
// topology; the stores carry them out while the keyspace keeps serving.
// Each is a topology.Operation whose ID is the topology version that
// started it: Operation looks it up with its progress, WaitOperation polls
// it until it ends. With dryRun the master only answers what it would do
// (OpReply.Plan for a resize, OpReply.Moves for replica moves).
//
// The master answers ErrBusy while the keyspace (or a keyspace of the
// store) has another operation running, ErrNotFound for an unknown store or
// operation, and ErrUnknownKeyspace, ErrInvalid or ErrNotEnoughStores as
// for CreateKeyspace.

// DefaultPollInterval is how often WaitOperation polls when its every is 0.
const DefaultPollInterval = time.Second

// pollTimeout bounds one poll of WaitOperation.
const pollTimeout = 5 * time.Second

// ResizeKeyspace asks the master to change keyspace name's number of
// shards to shards (1..topology.MaxShards). It returns the plan (the data
// each target shard receives, estimated from the stores' reports) and,
// unless dryRun, the started operation. The keyspace keeps serving by its
// old layout while the new shards fill (phase copy), then switches (phase
// switched: stores answer MOVED for keys they gave away, which the client
// retries on the new layout) and ends when the old shards are drained.
func (c *Client) ResizeKeyspace(ctx context.Context, name string, shards int, dryRun bool) (topology.OpReply, error) {
	if err := checkKeyspace(name); err != nil {
		return topology.OpReply{}, err
	}
	if shards < 1 || shards > topology.MaxShards {
		return topology.OpReply{}, fmt.Errorf("%w: %d shards, want 1..%d", ErrInvalid, shards, topology.MaxShards)
	}
	req := topology.ResizeRequest{Name: name, Shards: shards, DryRun: dryRun}
	return c.opRequest(ctx, topology.OpResizeKeyspace, req)
}

// CancelResize abandons the resize of keyspace name, which must not have
// switched yet (after the switch it can only finish: ErrInvalid). The
// keyspace stays as it was and the stores drop what they copied. It
// returns the resize's operation, now cancelled.
func (c *Client) CancelResize(ctx context.Context, name string) (topology.OpReply, error) {
	if err := checkKeyspace(name); err != nil {
		return topology.OpReply{}, err
	}
	return c.opRequest(ctx, topology.OpCancelResize, topology.NameRequest{Name: name})
}

// ReplaceStore asks the master to move every shard replica of store old to
// store replacement (a healthy store of the DC that holds none of those
// shards). Each new replica fills from its peers and then takes the old
// one's place; replicas on a store that is down are replaced at once. The
// reply lists the moves.
func (c *Client) ReplaceStore(ctx context.Context, old, replacement string, dryRun bool) (topology.OpReply, error) {
	if err := checkStore(old); err != nil {
		return topology.OpReply{}, err
	}
	if err := checkStore(replacement); err != nil {
		return topology.OpReply{}, err
	}
	if old == replacement {
		return topology.OpReply{}, fmt.Errorf("%w: store %s cannot replace itself", ErrInvalid, old)
	}
	req := topology.ReplaceRequest{Store: old, Target: replacement, DryRun: dryRun}
	return c.opRequest(ctx, topology.OpReplaceStore, req)
}

// DrainStore asks the master to move every shard replica of store to the
// least loaded healthy stores that do not hold the shard, so the store can
// be taken out of service. The reply lists the moves.
func (c *Client) DrainStore(ctx context.Context, store string, dryRun bool) (topology.OpReply, error) {
	if err := checkStore(store); err != nil {
		return topology.OpReply{}, err
	}
	return c.opRequest(ctx, topology.OpDrainStore, topology.ReplaceRequest{Store: store, DryRun: dryRun})
}

// Rebalance asks the master to even out keyspace name's placement over the
// healthy stores (for example after stores were added). A balanced
// keyspace gives ErrInvalid unless dryRun (then the reply has no moves).
func (c *Client) Rebalance(ctx context.Context, name string, dryRun bool) (topology.OpReply, error) {
	if err := checkKeyspace(name); err != nil {
		return topology.OpReply{}, err
	}
	return c.opRequest(ctx, topology.OpRebalance, topology.RebalanceRequest{Name: name, DryRun: dryRun})
}

// Operation looks up an operation, running or recently finished (the
// topology keeps the last topology.MaxFinishedOps finished ones), with the
// progress of a running one and its replica moves in progress.
func (c *Client) Operation(ctx context.Context, id uint64) (topology.OpReply, error) {
	if id == 0 {
		return topology.OpReply{}, fmt.Errorf("%w: operation id 0", ErrInvalid)
	}
	return c.opRequest(ctx, topology.OpGetOperation, topology.OpRequest{ID: id})
}

// WaitOperation polls Operation every every (0: DefaultPollInterval) until
// the operation is no longer running, and returns its last reply. progress,
// if not nil, is called with every reply, the last one included. An
// operation that ended cancelled returns its reply and an error wrapping
// ErrCancelled. A poll that finds no master or times out is tried again at
// the next tick (a master may be restarting; the operation carries on
// without it); other errors end the wait, as does ctx.
func (c *Client) WaitOperation(ctx context.Context, id uint64, every time.Duration, progress func(topology.OpReply)) (topology.OpReply, error) {
	if id == 0 {
		return topology.OpReply{}, fmt.Errorf("%w: operation id 0", ErrInvalid)
	}
	poll := func(ctx context.Context) (topology.OpReply, error) {
		pctx, cancel := context.WithTimeout(ctx, pollTimeout)
		defer cancel()
		return c.Operation(pctx, id)
	}
	return waitOperation(ctx, id, every, poll, progress, c.log)
}

// logger is the part of hclog.Logger waitOperation uses.
type logger interface {
	Debug(msg string, args ...any)
}

// waitOperation is WaitOperation with the poll injected (for tests).
func waitOperation(ctx context.Context, id uint64, every time.Duration, poll func(context.Context) (topology.OpReply, error),
	progress func(topology.OpReply), log logger) (topology.OpReply, error) {
	if every <= 0 {
		every = DefaultPollInterval
	}
	var last topology.OpReply
	var lastErr error
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		r, err := poll(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return last, waitEnded(ctx, id, err)
		case err != nil && transient(err):
			log.Debug("polling operation failed; trying again", "op", id, "error", err)
			lastErr = err
		case err != nil:
			return last, err
		case r.Operation == nil:
			return last, fmt.Errorf("client: %s: reply without operation %d", topology.OpGetOperation, id)
		default:
			last, lastErr = r, nil
			if progress != nil {
				progress(r)
			}
			switch r.Operation.State {
			case topology.OpRunning:
			case topology.OpDone:
				return r, nil
			case topology.OpCancelled:
				return r, fmt.Errorf("%w: %s operation %d: %s", ErrCancelled, r.Operation.Kind, id, r.Operation.Detail)
			default:
				return r, fmt.Errorf("client: %s operation %d ended %q: %s", r.Operation.Kind, id, r.Operation.State, r.Operation.Detail)
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return last, waitEnded(ctx, id, lastErr)
		}
	}
}

// waitEnded is the error of a wait whose ctx ended, with the last failed
// poll if it says more.
func waitEnded(ctx context.Context, id uint64, pollErr error) error {
	if pollErr == nil || errors.Is(pollErr, ctx.Err()) {
		return fmt.Errorf("client: waiting for operation %d: %w", id, ctx.Err())
	}
	return fmt.Errorf("client: waiting for operation %d: %w (last poll: %w)", id, ctx.Err(), pollErr)
}

// transient reports whether a failed poll may succeed later: no master
// answers (yet), the poll timed out, or the master failed internally.
func transient(err error) bool {
	var ae *AdminError
	return errors.Is(err, ErrNoMaster) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ae) && ae.Code == topology.CodeInternal
}

// opRequest sends an operation's admin request and decodes its reply.
func (c *Client) opRequest(ctx context.Context, op string, req any) (topology.OpReply, error) {
	var r topology.OpReply
	if err := c.request(ctx, op, req, &r); err != nil {
		return topology.OpReply{}, err
	}
	return r, nil
}

// checkStore validates a store id.
func checkStore(id string) error {
	if !topology.ValidName(id) {
		return fmt.Errorf("%w: store %q: use 1-64 of A-Z a-z 0-9 - _", ErrBadName, id)
	}
	return nil
}

// AddDC asks the master to add remote DC name to the DC's list of remote
// DCs (topology.Topology.RemoteDCs): every store of this DC starts applying
// its changes, without a restart. The DC must be linked (its topology is
// read across the NATS link first: ErrNotFound otherwise); the local DC is
// ErrInvalid and a DC already listed code EXISTS (ErrKeyspaceExists). The
// first change of a list the master does not manage yet seeds it from the
// stores' configured remote DCs and answers ErrBusy (try again) until
// every healthy store has reported them. It returns the list as published.
func (c *Client) AddDC(ctx context.Context, name string) (topology.DCListReply, error) {
	return c.dcRequest(ctx, topology.OpAddDC, name)
}

// RemoveDC asks the master to remove remote DC name from the DC's list:
// every store stops applying its changes and deletes its durable consumers
// of them, and tombstone purging no longer waits for it. A DC not listed
// is ErrNotFound. Like AddDC, the first change may answer ErrBusy.
func (c *Client) RemoveDC(ctx context.Context, name string) (topology.DCListReply, error) {
	return c.dcRequest(ctx, topology.OpRemoveDC, name)
}

// ListDCs asks the master for the DC's list of remote DCs: the topology's
// once managed, else the union of what the stores report applying.
func (c *Client) ListDCs(ctx context.Context) (topology.DCListReply, error) {
	var r topology.DCListReply
	if err := c.request(ctx, topology.OpListDCs, nil, &r); err != nil {
		return topology.DCListReply{}, err
	}
	return r, nil
}

func (c *Client) dcRequest(ctx context.Context, op, name string) (topology.DCListReply, error) {
	if !topology.ValidName(name) {
		return topology.DCListReply{}, fmt.Errorf("%w: dc %q: use 1-64 of A-Z a-z 0-9 - _", ErrBadName, name)
	}
	var r topology.DCListReply
	if err := c.request(ctx, op, topology.DCRequest{Name: name}, &r); err != nil {
		return topology.DCListReply{}, err
	}
	return r, nil
}
