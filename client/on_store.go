package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// DoOn sends one command to the replica store of shard of keyspace ks,
// after "VUSE ks shard" (with the shard's epoch), and returns its reply as
// go-redis parses RESP2 (nil for a null). Unlike Do it neither picks the
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
	useArgs := []any{"VUSE", ks, strconv.FormatUint(uint64(shard), 10)}
	if epoch := k.ShardEpoch(shard); epoch != 0 {
		useArgs = append(useArgs, "EPOCH", strconv.FormatUint(epoch, 10))
	}
	cmdArgs := make([]any, len(args))
	for i, a := range args {
		cmdArgs[i] = a
	}
	pipe := p.Pipeline()
	use := pipe.Do(ctx, useArgs...)
	cmd := pipe.Do(ctx, cmdArgs...)
	_, execErr := pipe.Exec(ctx)
	if err := use.Err(); err != nil {
		e, _ := classify(ctx, err, s.ID, s.Addr)
		return nil, e
	}
	if use.Val() == nil && execErr != nil {
		e, _ := classify(ctx, execErr, s.ID, s.Addr)
		return nil, e
	}
	if err := cmd.Err(); err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		e, _ := classify(ctx, err, s.ID, s.Addr)
		return nil, e
	}
	return cmd.Val(), nil
}
