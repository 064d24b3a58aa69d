package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/internal/retry"
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
	return slices.Contains(s.Serving, servingName(ks, shard))
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
	// slack is added to the attempt timeout (a read that waits for a
	// token).
	slack time.Duration
	// shardOf returns the shard of item i in ks (a final error fails it).
	shardOf func(ks *topology.Keyspace, i int) (uint32, error)
	// blocking marks commands that wait server-side (a write WithAck above
	// local, a read WithAfter, WAIT): they go on a dedicated connection,
	// not on a shared one where they would hold up other calls' replies.
	blocking bool
	// add encodes item i's command. It may run for two replicas at once (a
	// hedged read), so it must only read shared state.
	add func(b *cmdBuf, i int)
	// addAfter, set for the reads that may be hedged, encodes item i's read
	// made to wait up to wait for the write token names (the client's
	// latest write of the shard elsewhere) on a hedge's replica.
	addAfter func(b *cmdBuf, i int, token string, wait time.Duration)
	// done parses the reply of item i (not an error reply; nil for a null)
	// that store s answered for shard; an error it returns is final. It
	// runs on the operation's goroutine, for the reply the operation keeps
	// only.
	done func(i int, v any, s *topology.Store, shard uint32) error
	// unsure[i] is set (by run, before done) once an attempt of item i
	// failed with its outcome unknown: the request may have reached the
	// store (a write may have been applied there).
	unsure []bool
}

// exchange is one pipeline sent to one replica and what came back of it.
type exchange struct {
	s     *topology.Store
	vals  []any
	errs  []error // per item: nil when vals holds its reply
	retry []bool
}

// ok reports whether no item of x needs another attempt.
func (x *exchange) ok() bool { return !slices.Contains(x.retry, true) }

// answered reports whether every item of x got a reply that is not an
// error.
func (x *exchange) answered() bool {
	for _, err := range x.errs {
		if err != nil {
			return false
		}
	}
	return true
}

// behind reports whether x failed only because its replica had not applied
// the write it was told to wait for (BEHIND).
func (x *exchange) behind() bool {
	for _, err := range x.errs {
		if err != nil && !errors.Is(err, ErrBehind) {
			return false
		}
	}
	return true
}

// failAll fails every item of x with err.
func (x *exchange) failAll(err error, retry bool) {
	for j := range x.errs {
		x.errs[j], x.retry[j] = err, retry
	}
}

func newExchange(s *topology.Store, n int) *exchange {
	return &exchange{s: s, vals: make([]any, n), errs: make([]error, n), retry: make([]bool, n)}
}

// groupResult is what one shard's attempt did.
type groupResult struct {
	shard  uint32
	items  []int
	x      *exchange // the reply kept
	failed []string  // stores that failed retryably
}

// run executes o with retries and returns the error of every item (nil
// for the items that succeeded). The error it returns fails the whole op
// (closed client, unknown keyspace, ctx).
func (c *Client) run(ctx context.Context, o *op) ([]error, error) {
	errs := make([]error, o.n)
	if o.unsure == nil {
		o.unsure = make([]bool, o.n)
	}
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
			s, err := c.choose(t, ks, shard, o.write, tried[shard])
			if err == nil && tried[shard][s.ID] {
				// Every candidate failed once: start over.
				delete(tried, shard)
			}
			if err != nil {
				res.x = newExchange(nil, len(items))
				res.x.failAll(err, true)
				continue
			}
			alt := c.alternative(t, ks, shard, o.write, tried[shard], s)
			if len(order) == 1 {
				res.x, res.failed = c.attempt(ctx, o, s, alt, shard, items)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res.x, res.failed = c.attempt(ctx, o, s, alt, shard, items)
			}()
		}
		wg.Wait()
		pending = pending[:0]
		for _, res := range results {
			x := res.x
			for j, i := range res.items {
				switch {
				case x.errs[j] == nil:
					errs[i] = o.done(i, x.vals[j], x.s, res.shard)
				case x.retry[j]:
					errs[i] = x.errs[j]
					pending = append(pending, i)
					var se *StoreError
					if x.s != nil && !errors.As(x.errs[j], &se) && !errors.Is(x.errs[j], errStoreDown) {
						o.unsure[i] = true
					}
				default:
					errs[i] = x.errs[j]
				}
			}
			for _, id := range res.failed {
				if tried[res.shard] == nil {
					tried[res.shard] = map[string]bool{}
				}
				tried[res.shard][id] = true
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
			if !res.x.ok() {
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

// alternative returns the replica an attempt on s would fail over to: a
// healthy replica other than s that has not failed in this operation,
// preferring one not suspected and, for a read, one that serves the shard;
// nil when there is none.
func (c *Client) alternative(t *topology.Topology, ks *topology.Keyspace, shard uint32, write bool, tried map[string]bool, s *topology.Store) *topology.Store {
	if int(shard) >= len(ks.Placement) {
		return nil
	}
	var best *topology.Store
	bestRank := 4
	for _, id := range ks.Placement[shard] {
		r, ok := t.Stores[id]
		if !ok || r == nil || !r.Healthy || r.Addr == "" || id == s.ID || tried[id] {
			continue
		}
		rank := 0
		if c.suspected(r.Addr) {
			rank += 2
		}
		if !write && !serves(r, ks.Name, shard) {
			rank++
		}
		if write && readOnlyOn(r, ks.Name, shard) {
			rank += 4 // a replica refusing writes is no alternative for one
		}
		if rank < bestRank {
			best, bestRank = r, rank
		}
	}
	return best
}

// attempt sends the items of one shard to s and returns the reply to keep
// and the stores that failed retryably. When alt is another replica to fail
// over to, the attempt is bounded by Config.AttemptTimeout, and a read
// that has no reply after Config.HedgeAfter is sent to alt too: the first
// good reply wins and the other request is abandoned (its connection is
// closed, or drained when its reply comes before the timeout, and only then
// reused). The hedge waits on alt for the client's latest write of the
// shard that alt did not take itself, so it does not answer older data
// than s would; if alt has not applied it in time (BEHIND), the attempt
// waits for s.
func (c *Client) attempt(ctx context.Context, o *op, s, alt *topology.Store, shard uint32, items []int) (*exchange, []string) {
	var timeout time.Duration
	if alt != nil && c.cfg.AttemptTimeout > 0 {
		timeout = c.cfg.AttemptTimeout + o.slack
	}
	if o.addAfter == nil || alt == nil || c.cfg.HedgeAfter <= 0 {
		// On the caller's goroutine: Close ends it by closing the pools.
		actx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		x := c.send(ctx, actx, o, s, shard, items, "")
		if x.ok() {
			return x, nil
		}
		return x, []string{s.ID}
	}

	replies := make(chan *exchange, 2)
	var cancels []context.CancelFunc
	defer func() {
		// The slower request, if any, is abandoned: it ends at once if
		// it still waits for a connection, else when its reply or its
		// deadline comes (or its pool is closed).
		for _, cancel := range cancels {
			cancel()
		}
	}()
	start := func(s *topology.Store, token string) bool {
		t := timeout
		if t > 0 && token != "" {
			t += hedgeWaitForWrites
		}
		actx, cancel := c.attemptContext(ctx, t)
		cancels = append(cancels, cancel)
		return c.background.run(func() { replies <- c.send(ctx, actx, o, s, shard, items, token) })
	}
	closed := func() (*exchange, []string) {
		x := newExchange(s, len(items))
		x.failAll(ErrClosed, false)
		return x, nil
	}
	if !start(s, "") {
		return closed()
	}
	hedge := time.NewTimer(c.cfg.HedgeAfter)
	defer hedge.Stop()
	sent, got := 1, 0
	var bad []string
	var last *exchange
	for {
		select {
		case x := <-replies:
			got++
			if x.s == alt {
				// The hedge wins only with an answer for every item.
				if x.answered() {
					return x, bad
				}
				if !x.behind() {
					bad = append(bad, alt.ID)
				}
			} else {
				if x.ok() {
					return x, bad
				}
				bad = append(bad, s.ID)
			}
			if last == nil || x.s == s {
				last = x
			}
			if got == sent {
				return last, bad
			}
		case <-hedge.C:
			if sent == 1 {
				if !start(alt, c.marks.tokenFor(o.ks, shard, alt.ID)) {
					return closed()
				}
				sent++
			}
		case <-ctx.Done():
			x := newExchange(s, len(items))
			err, retry := classify(ctx, ctx.Err(), s.ID, s.Addr)
			x.failAll(err, retry)
			return x, nil
		}
	}
}

// attemptContext returns the context of a request sent in the background:
// ctx bounded by timeout (none when 0) and ended by Close.
func (c *Client) attemptContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	var actx context.Context
	var cancel context.CancelFunc
	if timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, timeout)
	} else {
		actx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(c.closing, cancel)
	return actx, func() {
		stop()
		cancel()
	}
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

// suspectAfter marks the store s as probably down after err, and logs it
// when it was not suspected yet.
func (c *Client) suspectAfter(s *topology.Store, err error) {
	if !c.suspected(s.Addr) {
		c.log.Warn("store not answering, trying its shards' other replicas first", "store", s.ID, "addr", s.Addr,
			"for", suspectFor, "error", err)
	}
	c.suspect(s.Addr)
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
	if !retry.SleepOrWake(ctx, retry.Jitter(retry.Exp(backoffBase, backoffMax, wait-1)), ch) {
		return fmt.Errorf("client: %w", ctx.Err())
	}
	return nil
}

// send sends the items of one shard to store s as one request: VUSE ks
// shard, then each item's command, in one piece on one connection (shared
// with other calls, or dedicated for a blocking op); with a token, the
// reads that wait for it (op.addAfter). actx bounds the request; ctx is the
// operation's (whose end makes errors final).
func (c *Client) send(ctx, actx context.Context, o *op, s *topology.Store, shard uint32, items []int, token string) *exchange {
	x := newExchange(s, len(items))
	p, err := c.pool(s.Addr)
	if err != nil {
		x.failAll(err, errors.Is(err, errStoreDown))
		return x
	}
	var b cmdBuf
	// The epoch names the incarnation of the shard this client routes for
	// (the keyspace's, or the resize's that added the shard); a store still
	// holding an earlier one (a keyspace deleted and created again, a shard
	// of an earlier layout) refuses it with NOSHARD instead of taking the
	// writes.
	c.addUse(&b, o.ks, shard)
	for _, i := range items {
		if token != "" {
			o.addAfter(&b, i, token, hedgeWaitForWrites)
		} else {
			o.add(&b, i)
		}
	}
	wait := o.slack
	if token != "" {
		wait = hedgeWaitForWrites
	}
	r := newRequest(&b, wait)
	useErr := p.do(actx, r, o.blocking || token != "")
	if useErr == nil {
		if e, ok := r.vals[0].(errorReply); ok {
			useErr = e
		}
	}
	if useErr != nil {
		// The target was not selected, so the replies of the commands are
		// not the shard's: all fail with VUSE's error (NOSHARD: retried on
		// another replica or the next topology), or the request's.
		err, retry := classify(ctx, useErr, s.ID, s.Addr)
		var se *StoreError
		if retry && !errors.As(err, &se) && !errors.Is(err, errConnClosed) &&
			!errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) {
			// The transport failed or timed out (connections closed by a
			// topology change, or a request abandoned for a faster
			// replica, say nothing about the store).
			c.suspectAfter(s, err)
		}
		x.failAll(err, retry)
		return x
	}
	c.clearSuspect(s.Addr)
	for j, v := range r.vals[1:] {
		if e, ok := v.(errorReply); ok {
			x.errs[j], x.retry[j] = classify(ctx, e, s.ID, s.Addr)
		} else {
			x.vals[j] = v
		}
	}
	return x
}

// addUse encodes VUSE ks shard, with the shard's epoch when it has one.
func (c *Client) addUse(b *cmdBuf, ks string, shard uint32) {
	if k, ok := c.top.Load().Keyspaces[ks]; ok {
		if epoch := k.ShardEpoch(shard); epoch != 0 {
			b.add("VUSE", ks, uint64(shard), "EPOCH", epoch)
			return
		}
	}
	b.add("VUSE", ks, uint64(shard))
}
