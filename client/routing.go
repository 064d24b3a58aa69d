package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/topology"
)

// Retry back-off: the pause before attempt n+1 is min(backoffBase<<(n-1),
// backoffMax), cut short by a new topology.
const (
	backoffBase = 25 * time.Millisecond
	backoffMax  = time.Second
)

// servingName is how a store lists a shard it serves: "ks/shard".
func servingName(ks string, shard uint32) string {
	return ks + "/" + strconv.FormatUint(uint64(shard), 10)
}

// serves reports whether s lists (ks, shard) as served.
func serves(s *topology.Store, ks string, shard uint32) bool {
	name := servingName(ks, shard)
	for _, x := range s.Serving {
		if x == name {
			return true
		}
	}
	return false
}

// readOnlyOn reports whether s reports (ks, shard) as refusing writes.
func readOnlyOn(s *topology.Store, ks string, shard uint32) bool {
	_, ok := s.ReadOnly[servingName(ks, shard)]
	return ok
}

// pickReplica chooses the store to send a command on shard of ks to,
// skipping the stores in skip.
//
// Writes go to the first healthy replica in placement order (the preferred
// replica, failing over down the list), replicas that report the shard
// read-only last. Reads go to the first healthy
// replica that lists the shard as served (caught up), or else to the first
// healthy one. It returns ErrNoReplica when no replica qualifies.
func pickReplica(t *topology.Topology, ks *topology.Keyspace, shard uint32, write bool, skip map[string]bool) (*topology.Store, error) {
	if int(shard) >= len(ks.Placement) {
		return nil, fmt.Errorf("%w: keyspace %s has no shard %d", ErrNoReplica, ks.Name, shard)
	}
	var fallback *topology.Store
	for _, id := range ks.Placement[shard] {
		s, ok := t.Stores[id]
		if !ok || s == nil || !s.Healthy || s.Addr == "" || skip[id] {
			continue
		}
		if write && readOnlyOn(s, ks.Name, shard) {
			// Tried last: it refuses writes until its disk has room.
			if fallback == nil {
				fallback = s
			}
			continue
		}
		if write || serves(s, ks.Name, shard) {
			return s, nil
		}
		if fallback == nil {
			fallback = s
		}
	}
	if fallback != nil {
		return fallback, nil
	}
	return nil, fmt.Errorf("%w: %s (replicas %v)", ErrNoReplica, servingName(ks.Name, shard), ks.Placement[shard])
}

// op is a set of commands on one keyspace, each on the shard of its item;
// the engine groups the items by shard, sends every group as one pipeline
// (VUSE first) to a replica, and retries the items that failed retryably.
type op struct {
	ks    string
	write bool
	n     int // items 0..n-1
	// shardOf returns the shard of item i in ks (a final error fails it).
	shardOf func(ks *topology.Keyspace, i int) (uint32, error)
	// add queues item i's command on the pipeline.
	add func(ctx context.Context, p redis.Pipeliner, i int) redis.Cmder
	// done parses the reply of item i (cmd.Err() is nil or redis.Nil) that
	// store s answered for shard; an error it returns is final.
	done func(i int, cmd redis.Cmder, s *topology.Store, shard uint32) error
}

// groupResult is what one shard's pipeline did.
type groupResult struct {
	shard uint32
	store string
	items []int
	errs  []error // per item of items: nil, final or retryable
	retry []bool
}

// run executes o with retries and returns the error of every item (nil
// for the items that succeeded). The error it returns fails the whole op
// (closed client, unknown keyspace, ctx).
func (c *Client) run(ctx context.Context, o *op) ([]error, error) {
	errs := make([]error, o.n)
	pending := make([]int, o.n)
	for i := range pending {
		pending[i] = i
	}
	var tried map[uint32]map[string]bool // per shard: stores that failed retryably
	var triedVersion uint64
	attempts := c.cfg.attempts()
	waits := 0
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		t, err := c.topo()
		if err != nil {
			return nil, err
		}
		if tried == nil || t.Version != triedVersion {
			tried, triedVersion = map[uint32]map[string]bool{}, t.Version
		}
		ks, ok := t.Keyspaces[o.ks]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownKeyspace, o.ks)
		}
		groups := map[uint32][]int{}
		var order []uint32
		for _, i := range pending {
			shard, err := o.shardOf(ks, i)
			if err != nil {
				errs[i] = err
				continue
			}
			if _, ok := groups[shard]; !ok {
				order = append(order, shard)
			}
			groups[shard] = append(groups[shard], i)
		}
		results := make([]groupResult, len(order))
		var wg sync.WaitGroup
		for gi, shard := range order {
			items := groups[shard]
			res := &results[gi]
			res.shard, res.items = shard, items
			res.errs, res.retry = make([]error, len(items)), make([]bool, len(items))
			s, err := c.choose(t, ks, shard, o.write, tried[shard])
			if err == nil && tried[shard][s.ID] {
				// Every candidate failed once: start over.
				delete(tried, shard)
			}
			if err != nil {
				for j := range items {
					res.errs[j], res.retry[j] = err, true
				}
				continue
			}
			res.store = s.ID
			if len(order) == 1 {
				c.send(ctx, o, s, shard, res)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.send(ctx, o, s, shard, res)
			}()
		}
		wg.Wait()
		pending = pending[:0]
		for _, res := range results {
			failed := false
			for j, i := range res.items {
				errs[i] = res.errs[j]
				if res.retry[j] {
					pending = append(pending, i)
					failed = true
				}
			}
			if failed && res.store != "" {
				if tried[res.shard] == nil {
					tried[res.shard] = map[string]bool{}
				}
				tried[res.shard][res.store] = true
			}
		}
		if len(pending) == 0 {
			return errs, nil
		}
		if attempt >= attempts {
			break
		}
		if c.isClosed() {
			return nil, ErrClosed
		}
		// Retry at once while every failed shard has a replica it has not
		// tried; else wait for a new topology or the back-off.
		wait := false
		for _, res := range results {
			if slices.Contains(res.retry, true) {
				if _, err := pickReplica(t, ks, res.shard, o.write, tried[res.shard]); err != nil {
					wait = true
				}
			}
		}
		c.log.Debug("retrying", "keyspace", o.ks, "items", len(pending), "attempt", attempt, "wait", wait, "error", errs[pending[0]])
		if wait {
			waits++
			if err := c.backoff(ctx, waits, t); err != nil {
				return nil, err
			}
		}
	}
	if c.isClosed() {
		return nil, ErrClosed
	}
	for _, i := range pending {
		if !errors.Is(errs[i], ErrNoReplica) {
			errs[i] = fmt.Errorf("%w: %d attempts: %w", ErrUnavailable, attempts, errs[i])
		}
	}
	return errs, nil
}

// choose picks the replica for a shard: the first that qualifies among
// those not tried in this operation and not suspected of being down, else
// among those not tried, else among all (starting over).
func (c *Client) choose(t *topology.Topology, ks *topology.Keyspace, shard uint32, write bool, tried map[string]bool) (*topology.Store, error) {
	if int(shard) < len(ks.Placement) {
		var skip map[string]bool
		for _, id := range ks.Placement[shard] {
			if s, ok := t.Stores[id]; ok && s != nil && c.suspected(s.Addr) {
				if skip == nil {
					skip = make(map[string]bool, len(tried)+1)
					for k, v := range tried {
						skip[k] = v
					}
				}
				skip[id] = true
			}
		}
		if skip != nil {
			if s, err := pickReplica(t, ks, shard, write, skip); err == nil {
				return s, nil
			}
		}
	}
	if s, err := pickReplica(t, ks, shard, write, tried); err == nil {
		return s, nil
	}
	return pickReplica(t, ks, shard, write, nil)
}

// suspectFor is how long a store that failed at the transport level is
// tried last: about until the master marks it unhealthy.
const suspectFor = topology.DeadAfter

// suspect marks the store at addr as probably down.
func (c *Client) suspect(addr string) {
	c.suspects.Store(addr, time.Now().Add(suspectFor))
}

// clearSuspect forgets that the store at addr failed.
func (c *Client) clearSuspect(addr string) {
	if _, ok := c.suspects.Load(addr); ok {
		c.suspects.Delete(addr)
	}
}

// suspected reports whether the store at addr failed recently.
func (c *Client) suspected(addr string) bool {
	v, ok := c.suspects.Load(addr)
	if !ok {
		return false
	}
	if time.Now().After(v.(time.Time)) {
		c.suspects.CompareAndDelete(addr, v)
		return false
	}
	return true
}

// backoff waits before the next attempt: until the topology changes, the
// back-off passes or ctx ends.
func (c *Client) backoff(ctx context.Context, wait int, seen *topology.Topology) error {
	ch := c.changes()
	if c.top.Load() != seen {
		return nil // re-route at once on the newer topology
	}
	d := min(backoffBase<<min(wait-1, 16), backoffMax)
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ch:
	case <-tm.C:
	case <-ctx.Done():
		return fmt.Errorf("client: %w", ctx.Err())
	}
	return nil
}

// send sends the items of one shard to store s as one pipeline: VUSE ks
// shard, then each item's command, on one connection.
func (c *Client) send(ctx context.Context, o *op, s *topology.Store, shard uint32, res *groupResult) {
	fail := func(err error, retry bool) {
		for j := range res.items {
			res.errs[j], res.retry[j] = err, retry
		}
	}
	p, err := c.pool(s.Addr)
	if err != nil {
		fail(err, false)
		return
	}
	pipe := p.Pipeline()
	// The epoch names the incarnation of the shard this client routes for
	// (the keyspace's, or the resize's that added the shard); a store still
	// holding an earlier one (a keyspace deleted and created again, a shard
	// of an earlier layout) refuses it with NOSHARD instead of taking the
	// writes.
	useArgs := []any{"VUSE", o.ks, strconv.FormatUint(uint64(shard), 10)}
	if ks, ok := c.top.Load().Keyspaces[o.ks]; ok {
		if epoch := ks.ShardEpoch(shard); epoch != 0 {
			useArgs = append(useArgs, "EPOCH", strconv.FormatUint(epoch, 10))
		}
	}
	use := pipe.Do(ctx, useArgs...)
	cmds := make([]redis.Cmder, len(res.items))
	for j, i := range res.items {
		cmds[j] = o.add(ctx, pipe, i)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	if err := use.Err(); err != nil {
		// The target was not selected, so the replies of the commands are
		// not the shard's: all fail with VUSE's error (NOSHARD: retried on
		// another replica or the next topology).
		err, retry := classify(ctx, err, s.ID, s.Addr)
		var se *StoreError
		if retry && !errors.As(err, &se) && !errors.Is(err, redis.ErrClosed) {
			// The transport failed (a pool closed by a topology change
			// says nothing about the store).
			c.suspect(s.Addr)
		}
		fail(err, retry)
		return
	}
	c.clearSuspect(s.Addr)
	for j, i := range res.items {
		cerr := cmds[j].Err()
		if cerr != nil && !errors.Is(cerr, redis.Nil) {
			res.errs[j], res.retry[j] = classify(ctx, cerr, s.ID, s.Addr)
			continue
		}
		res.errs[j] = o.done(i, cmds[j], s, shard)
	}
}
