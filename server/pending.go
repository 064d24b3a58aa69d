package server

import (
	"context"
	"fmt"
	"time"

	"github.com/vasto-kv/vasto/server/resp"

	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/wire"
)

// replyKind says how a deferred write reply is rendered once its commit is
// done.
type replyKind uint8

const (
	replyOK        replyKind = iota // +OK once every write landed
	replyDelCount                   // :n keys that existed
	replyVersioned                  // VSET/VDEL result array
	replyCond                       // SET NX/XX: +OK, or null when skipped
	replyError                      // an error decided before the commit
)

// deferred is the reply of one write command waiting for its commit.
type deferred struct {
	kind  replyKind
	group int // index into pendingWrites.groups
	first int // first write of this command in the group
	n     int
	err   error
	// ack is the acknowledgement level the command asked for ("": local).
	ack string
	// name and start are the command's, when an Observer is set.
	name  string
	start time.Time
}

// writeGroup is the writes of one pipeline batch to one shard.
type writeGroup struct {
	shard   *store.Shard
	writes  []store.Prepared
	results []store.Result
	err     error
}

// pendingWrites collects the writes of the commands of one pipeline batch.
type pendingWrites struct {
	groups  []writeGroup
	replies []deferred
}

// add queues prepared writes of one command for sh and its reply.
func (p *pendingWrites) add(sh *store.Shard, kind replyKind, writes ...store.Prepared) {
	g := -1
	for i := range p.groups {
		if p.groups[i].shard == sh {
			g = i
			break
		}
	}
	if g < 0 {
		p.groups = append(p.groups, writeGroup{shard: sh})
		g = len(p.groups) - 1
	}
	grp := &p.groups[g]
	p.replies = append(p.replies, deferred{kind: kind, group: g, first: len(grp.writes), n: len(writes)})
	grp.writes = append(grp.writes, writes...)
}

// deferError queues an error reply behind the pending writes so replies stay
// in order.
func (c *conn) deferError(err error) {
	if len(c.pending.replies) == 0 {
		c.writeErr(err)
		return
	}
	c.pending.replies = append(c.pending.replies, deferred{kind: replyError, err: err})
}

// flushWrites commits every pending group and writes the deferred replies
// in order.
func (c *conn) flushWrites() {
	p := &c.pending
	if len(p.replies) == 0 {
		return
	}
	ctx := c.srv.ctx
	for i := range p.groups {
		g := &p.groups[i]
		g.results, g.err = g.shard.Commit(ctx, g.writes)
		c.noteWritten(g)
	}
	for i := range p.replies {
		c.awaitAck(&p.replies[i])
	}
	for _, d := range p.replies {
		c.code = ""
		c.renderDeferred(d)
		c.observeDeferred(d)
	}
	for i := range p.groups {
		p.groups[i] = writeGroup{}
	}
	p.groups = p.groups[:0]
	p.replies = p.replies[:0]
}

func (c *conn) renderDeferred(d deferred) {
	if d.kind == replyError {
		c.writeErr(d.err)
		return
	}
	g := &c.pending.groups[d.group]
	if g.err != nil {
		c.writeErr(g.err)
		return
	}
	res := g.results[d.first : d.first+d.n]
	switch d.kind {
	case replyOK:
		c.w.WriteSimple("OK")
	case replyDelCount:
		n := int64(0)
		for _, r := range res {
			if r.Existed {
				n++
			}
		}
		c.w.WriteInt(n)
	case replyVersioned:
		writeResult(c.w, res[0], d.ack)
	case replyCond:
		if res[0].Skipped {
			c.w.WriteNull()
		} else {
			c.w.WriteSimple("OK")
		}
	}
}

// awaitAck waits, for a committed command that asked for it, until its
// writes reached their acknowledgement level; a level not reached within
// the server's AckTimeout turns the reply into a NOACK error (the writes
// stand).
func (c *conn) awaitAck(d *deferred) {
	if d.kind == replyError || d.ack == "" || d.ack == wire.AckLocal {
		return
	}
	g := &c.pending.groups[d.group]
	if g.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.AckTimeout)
	defer cancel()
	for _, r := range g.results[d.first : d.first+d.n] {
		idx := r.LogIndex
		if !r.Applied {
			// The key holds this version or a later one, perhaps from an
			// earlier attempt of this write, in the outbox or already
			// published: wait for everything this store logged so far, even
			// when the outbox is empty (a published entry may not be applied
			// by another replica yet). A store that never logged anything
			// holds the version from a peer, which has it.
			_, last := g.shard.LogBounds()
			if last == 0 {
				continue
			}
			idx = last
		}
		err := g.shard.WaitPublished(ctx, idx)
		if err == nil && d.ack == wire.AckReplicated {
			err = c.waitReplicated(ctx, g.shard, idx)
		}
		if err != nil {
			d.kind, d.err = replyError, fmt.Errorf("%w (asked: ACK %s, waited %v); the write stands: send it again with the same event time", err, d.ack, c.srv.cfg.AckTimeout)
			return
		}
	}
}

// waitReplicated waits until another replica applied entry idx of sh.
func (c *conn) waitReplicated(ctx context.Context, sh *store.Shard, idx uint64) error {
	wait := c.srv.cfg.Replicated
	if wait == nil {
		return fmt.Errorf("%w: this store replicates nothing", errNotAcknowledged)
	}
	id := sh.ID()
	if _, err := wait(ctx, id.Keyspace, id.Shard, idx, 1); err != nil {
		return fmt.Errorf("%w: %w", errNotAcknowledged, err)
	}
	return nil
}

// writeResult renders a VSET/VDEL result: applied, event time, origin DC,
// origin node and log index of the version the key now holds, and the
// acknowledgement level reached when the command asked for one.
func writeResult(w *resp.Writer, r store.Result, ack string) {
	if ack != "" {
		w.WriteArray(6)
	} else {
		w.WriteArray(5)
	}
	if r.Applied {
		w.WriteInt(1)
	} else {
		w.WriteInt(0)
	}
	w.WriteInt(r.Version.Time)
	w.WriteBulkString(r.Version.DC)
	w.WriteBulkString(r.Version.Node)
	w.WriteInt(int64(r.LogIndex))
	if ack != "" {
		w.WriteBulkString(ack)
	}
}
