package gateway

import (
	"context"
	"sync"

	"github.com/vasto-kv/vasto/client"
)

// batcher merges the batches of concurrent connections into one
// Client.Do, so each store gets one larger pipeline instead of one per
// connection: fewer round trips and system calls on the gateway and on the
// stores, and larger group commits. A connection's commands stay together
// and in order, so its replies are those it would have got alone. At most
// max merged batches are in flight; batches that arrive meanwhile wait and
// go together in the next one (as a store's committer groups commits).
type batcher struct {
	g   *Gateway
	max int

	mu       sync.Mutex
	queue    []*request
	inflight int
}

// request is one connection's batch.
type request struct {
	ks   string
	cmds []client.Command
	reps []client.Reply
	err  error
	done chan struct{}
}

// do sends cmds on keyspace ks together with the batches of other
// connections and returns their replies.
func (b *batcher) do(ks string, cmds []client.Command) ([]client.Reply, error) {
	r := &request{ks: ks, cmds: cmds, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if b.inflight < b.max {
		b.inflight++
		take := b.queue
		b.queue = nil
		b.mu.Unlock()
		// The caller is a connection's goroutine, counted in g.wg, so
		// the count is not zero here.
		b.g.wg.Add(1)
		go b.run(take)
	} else {
		b.mu.Unlock()
	}
	<-r.done
	return r.reps, r.err
}

// run sends merged batches until none waits.
func (b *batcher) run(take []*request) {
	defer b.g.wg.Done()
	for {
		b.send(take)
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		take = b.queue
		b.queue = nil
		b.mu.Unlock()
	}
}

// send sends the requests, one Client.Do per keyspace, and answers them.
func (b *batcher) send(reqs []*request) {
	for len(reqs) > 0 {
		ks := reqs[0].ks
		var same, rest []*request
		n := 0
		for _, r := range reqs {
			if r.ks == ks {
				same = append(same, r)
				n += len(r.cmds)
			} else {
				rest = append(rest, r)
			}
		}
		b.sendOne(ks, same, n)
		reqs = rest
	}
}

func (b *batcher) sendOne(ks string, reqs []*request, n int) {
	cmds := reqs[0].cmds
	if len(reqs) > 1 {
		cmds = make([]client.Command, 0, n)
		for _, r := range reqs {
			cmds = append(cmds, r.cmds...)
		}
	}
	ctx, cancel := context.WithTimeout(b.g.ctx, b.g.cfg.RequestTimeout)
	reps, err := b.g.cl.Do(ctx, ks, cmds)
	cancel()
	off := 0
	for _, r := range reqs {
		if err != nil {
			r.err = err
		} else {
			r.reps = reps[off : off+len(r.cmds) : off+len(r.cmds)]
		}
		off += len(r.cmds)
		close(r.done)
	}
}
