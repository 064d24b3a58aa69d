package client

import (
	"context"
	"fmt"
	"slices"
)

// DoOn sends one command to the replica store of shard of keyspace ks,
// after "VUSE ks shard" (with the shard's epoch), and returns its reply
// (typed as Reply.Val; nil for a null). Unlike Do it neither picks the
// replica nor retries: tools that must reach every replica of a shard
// (a restore) or one named replica (a backup) use it. The store must be a
// healthy replica of the shard in the latest topology (ErrNoReplica
// otherwise).
func (c *Client) DoOn(ctx context.Context, ks string, shard uint32, store string, args ...[]byte) (any, error) {
	if err := checkKeyspace(ks); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrInvalid)
	}
	t, k, err := c.keyspace(ks)
	if err != nil {
		return nil, err
	}
	if int(shard) >= len(k.Placement) || !slices.Contains(k.Placement[shard], store) {
		return nil, fmt.Errorf("%w: %s is not a replica of %s", ErrNoReplica, store, servingName(ks, shard))
	}
	s, ok := t.Stores[store]
	if !ok || s == nil || !s.Healthy || s.Addr == "" {
		return nil, fmt.Errorf("%w: %s (replica of %s) is not healthy", ErrNoReplica, store, servingName(ks, shard))
	}
	p, err := c.pool(s.Addr)
	if err != nil {
		return nil, err
	}
	var b cmdBuf
	if epoch := k.ShardEpoch(shard); epoch != 0 {
		b.add("VUSE", ks, uint64(shard), "EPOCH", epoch)
	} else {
		b.add("VUSE", ks, uint64(shard))
	}
	b.addBytes(args)
	r := newRequest(&b, 0)
	if err := p.do(ctx, r, isBlocking(args)); err != nil {
		e, _ := classify(ctx, err, s.ID, s.Addr)
		return nil, e
	}
	for _, v := range r.vals {
		if e, ok := v.(errorReply); ok {
			err, _ := classify(ctx, e, s.ID, s.Addr)
			return nil, err
		}
	}
	return r.vals[1], nil
}
