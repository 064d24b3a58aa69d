package shardtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/store"
)

// ErrUnreachable is what Dial returns for an address no twin engine is
// registered at, or one cut off with Cut.
var ErrUnreachable = errors.New("shardtest: store unreachable")

// Peers are twin engines by the address other stores dial them at: the
// network of a unit test. Dial connects to one, as peerclient.Dial
// connects to a real store.
type Peers struct {
	mu      sync.Mutex
	engines map[string]*Engine
	cut     map[string]bool
	dials   map[string]int
}

// NewPeers returns an empty network.
func NewPeers() *Peers {
	return &Peers{engines: map[string]*Engine{}, cut: map[string]bool{}, dials: map[string]int{}}
}

// Add makes e answer at addr.
func (p *Peers) Add(addr string, e *Engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.engines[addr] = e
}

// Cut makes addr unreachable (or reachable again).
func (p *Peers) Cut(addr string, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut[addr] = cut
}

// Dials returns how many connections to addr were made.
func (p *Peers) Dials(addr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dials[addr]
}

// Dial connects to the twin at addr.
func (p *Peers) Dial(ctx context.Context, addr string) (*Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.engines[addr]
	if !ok || p.cut[addr] {
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, addr)
	}
	p.dials[addr]++
	return &Peer{p: p, addr: addr, e: e}, nil
}

// Peer is a connection to a twin engine, answering what stores ask each
// other (peerclient.Client): dumps, VLOGINFO and whether it holds a shard.
type Peer struct {
	p      *Peers
	addr   string
	e      *Engine
	broken bool
	closed bool
}

// noShard is the error reply of a store that does not hold a shard.
func noShard(keyspace string, shard uint32) error {
	return &resp.ReplyError{Msg: "NOSHARD " + keyspace + "/" + strconv.FormatUint(uint64(shard), 10) + " not held here"}
}

// check fails on a closed connection or one to a store cut off since (the
// connection breaks).
func (c *Peer) check() error {
	if c.closed {
		return fmt.Errorf("shardtest: connection to %s closed", c.addr)
	}
	c.p.mu.Lock()
	cut := c.p.cut[c.addr]
	c.p.mu.Unlock()
	if cut {
		c.broken = true
	}
	if c.broken {
		return fmt.Errorf("%w: %s", ErrUnreachable, c.addr)
	}
	return nil
}

func (c *Peer) shard(keyspace string, shard uint32) (*Shard, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	sh, err := c.e.Shard(keyspace, shard)
	if errors.Is(err, store.ErrNoShard) {
		return nil, noShard(keyspace, shard)
	}
	return sh, err
}

// Dump reads the shard's records (tombstones included) that req selects,
// page by page in key order, as VDUMP does.
func (c *Peer) Dump(ctx context.Context, req peerclient.DumpRequest, fn func(peerclient.DumpPage) error) error {
	start := req.Start
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		sh, err := c.shard(req.Keyspace, req.Shard)
		if err != nil {
			return err
		}
		res, err := sh.Scan(store.ScanOptions{Start: start, Limit: max(1, min(req.Limit, store.MaxScanLimit)), IncludeDead: true})
		if err != nil {
			return err
		}
		var changes []lww.Change
		for _, it := range res.Items {
			if owns(it.Key, req.Shards, req.Target) {
				changes = append(changes, lww.Change{Key: it.Key, Record: it.Record})
			}
		}
		if err := fn(peerclient.DumpPage{Start: start, End: res.Next, Changes: changes}); err != nil {
			return err
		}
		if res.Next == nil {
			return nil
		}
		start = res.Next
	}
}

// Ints answers VLOGINFO (the shard's log bounds); other commands are
// unknown.
func (c *Peer) Ints(keyspace string, shard uint32, args ...string) ([]int64, error) {
	sh, err := c.shard(keyspace, shard)
	if err != nil {
		return nil, err
	}
	if len(args) == 1 && args[0] == "VLOGINFO" {
		first, last := sh.LogBounds()
		return []int64{int64(first), int64(last)}, nil
	}
	return nil, &resp.ReplyError{Msg: fmt.Sprintf("ERR unknown command %q", args)}
}

// Use reports whether the store holds the shard (a NOSHARD error reply if
// not).
func (c *Peer) Use(keyspace string, shard uint32) error {
	_, err := c.shard(keyspace, shard)
	return err
}

// Reset does nothing: pages are not kept in an arena.
func (c *Peer) Reset() {}

// Broken reports whether the connection broke (its store was cut off).
func (c *Peer) Broken() bool { return c.broken }

// Close closes the connection.
func (c *Peer) Close() error {
	c.closed = true
	return nil
}

// DialAs returns p's Dial as a replication package's dial function, whose
// connections are its interface I (which *Peer implements).
func DialAs[I any](p *Peers) func(ctx context.Context, addr string) (I, error) {
	return func(ctx context.Context, addr string) (I, error) {
		var zero I
		c, err := p.Dial(ctx, addr)
		if err != nil {
			return zero, err
		}
		return any(c).(I), nil
	}
}
