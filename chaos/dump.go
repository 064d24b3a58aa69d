package chaos

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/lww"
)

// dumpPage is how many records one VDUMP page asks for.
const dumpPage = 1000

// DumpShard reads every record (tombstones included) of shard of keyspace
// from the store at addr, page by page with VDUMP, and calls fn with each
// in key order; an error of fn ends the dump and is returned. epoch is the
// shard's incarnation (topology.Keyspace.ShardEpoch), which the store
// checks.
func DumpShard(ctx context.Context, addr, keyspace string, shard uint32, epoch uint64, fn func(key string, rec lww.Record) error) error {
	rc := dialStore(ctx, addr)
	defer rc.Close()
	args := []any{"VDUMP", "LIMIT", dumpPage}
	for {
		var cmd *redis.Cmd
		_, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "VUSE", keyspace, shard, "EPOCH", epoch)
			cmd = p.Do(ctx, args...)
			return nil
		})
		if err != nil {
			return fmt.Errorf("chaos: dump %s/%d from %s: %w", keyspace, shard, addr, err)
		}
		res, err := cmd.Slice()
		if err != nil {
			return fmt.Errorf("chaos: dump %s/%d from %s: %w", keyspace, shard, addr, err)
		}
		if len(res) != 2 {
			return fmt.Errorf("%w: VDUMP from %s: %d elements", ErrBadReply, addr, len(res))
		}
		flat, ok := res[1].([]any)
		if !ok || len(flat)%2 != 0 {
			return fmt.Errorf("%w: VDUMP entries from %s", ErrBadReply, addr)
		}
		for i := 0; i < len(flat); i += 2 {
			k, _ := flat[i].(string)
			b, _ := flat[i+1].(string)
			rec, err := lww.DecodeRecord([]byte(b))
			if err != nil {
				return fmt.Errorf("%w: record of %q from %s: %w", ErrBadReply, k, addr, err)
			}
			if err := fn(k, rec); err != nil {
				return err
			}
		}
		if res[0] == nil {
			return nil
		}
		args = []any{"VDUMP", "LIMIT", dumpPage, "START", res[0]}
	}
}
