package server

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/vasto-kv/vasto/store"
)

// noteWritten records, for WAIT, the highest change-log index of g's
// committed writes. A write LWW skipped (the key holds this version or a
// later one, perhaps from an earlier attempt still in the outbox) counts as
// everything the shard has logged so far.
func (c *conn) noteWritten(g *writeGroup) {
	if g.err != nil || len(g.results) == 0 {
		return
	}
	var idx uint64
	skipped := false
	for _, r := range g.results {
		if r.Applied {
			idx = max(idx, r.LogIndex)
		} else {
			skipped = true
		}
	}
	if skipped {
		// Not applied: the key holds this version or a later one, perhaps
		// logged here earlier and already published; count everything this
		// store logged (see awaitAck).
		_, last := g.shard.LogBounds()
		idx = max(idx, last)
	}
	if idx == 0 {
		return
	}
	if c.written == nil {
		c.written = map[*store.Shard]uint64{}
	}
	c.written[g.shard] = max(c.written[g.shard], idx)
}

// WAIT numreplicas timeout: as in Redis, blocks until every write this
// connection made was applied by at least numreplicas other replicas of its
// shard, or timeout milliseconds passed (0: no limit), and answers how many
// replicas had applied them (the fewest over the shards written): fewer
// than asked when the timeout came first. A connection that wrote nothing
// gets the number of other replicas of its selected shard.
func cmdWait(c *conn, args [][]byte) {
	want, err1 := strconv.ParseInt(string(args[1]), 10, 64)
	ms, err2 := strconv.ParseInt(string(args[2]), 10, 64)
	switch {
	case err1 != nil || want < 0 || want > math.MaxInt32:
		c.writeErr(syntaxf("WAIT numreplicas must be a non-negative integer, got %q", clip(args[1])))
		return
	case err2 != nil || ms < 0:
		c.writeErr(redisError("timeout is negative"))
		return
	}
	ctx, cancel := c.srv.ctx, context.CancelFunc(func() {})
	if ms > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
	}
	defer cancel()
	c.w.WriteInt(int64(c.waitReplicas(ctx, int(want))))
}

// waitReplicas waits until want other replicas applied every write of the
// connection, or ctx ends, and returns the fewest replicas that had over
// the shards written.
func (c *conn) waitReplicas(ctx context.Context, want int) int {
	wait := c.srv.cfg.Replicated
	if wait == nil {
		return 0
	}
	if len(c.written) == 0 {
		sh, err := c.target()
		if err != nil {
			return 0
		}
		id := sh.ID()
		n, _ := wait(ctx, id.Keyspace, id.Shard, 0, 0)
		return n
	}
	fewest := math.MaxInt
	for sh, idx := range c.written {
		n := 0
		if sh.WaitPublished(ctx, idx) == nil {
			id := sh.ID()
			n, _ = wait(ctx, id.Keyspace, id.Shard, idx, want)
		}
		fewest = min(fewest, n)
	}
	if fewest == math.MaxInt {
		return 0
	}
	return fewest
}
