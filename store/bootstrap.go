package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/lww"
)

// bootstrapFrom copies every record of this shard from a peer replica with
// VDUMP and merges it in with LWW. The peer keeps serving meanwhile; writes
// it takes during the copy reach this replica through its change log.
func (w *shardWorker) bootstrapFrom(ctx context.Context, peer string) error {
	st, ok := w.top.Stores[peer]
	if !ok || st.Addr == "" {
		return fmt.Errorf("no address for peer %s", peer)
	}
	rc := redis.NewClient(&redis.Options{Addr: st.Addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: 2})
	defer func() { _ = rc.Close() }()
	var start []byte
	copied := 0
	for {
		var res []any
		cmds, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "VUSE", w.ref.Keyspace, w.ref.Shard)
			args := []any{"VDUMP", "LIMIT", 1000}
			if start != nil {
				args = append(args, "START", start)
			}
			p.Do(ctx, args...)
			return nil
		})
		if err != nil {
			return err
		}
		if res, err = cmds[1].(*redis.Cmd).Slice(); err != nil {
			return err
		}
		changes, err := decodeDump(res)
		if err != nil {
			return err
		}
		if _, err := w.sh.ApplyRemote(ctx, w.source(peer), 0, changes); err != nil {
			return err
		}
		copied += len(changes)
		next, _ := res[0].(string)
		if res[0] == nil || next == "" {
			break
		}
		start = []byte(next)
	}
	w.log.Info("copied shard from peer", "peer", peer, "records", copied)
	return nil
}

// peerLastIndex asks a peer for the last index of its change log of this
// shard (VLOGINFO).
func (w *shardWorker) peerLastIndex(ctx context.Context, peer string) (uint64, error) {
	st, ok := w.top.Stores[peer]
	if !ok || st.Addr == "" {
		return 0, fmt.Errorf("no address for peer %s", peer)
	}
	rc := redis.NewClient(&redis.Options{Addr: st.Addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: 1})
	defer func() { _ = rc.Close() }()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cmds, err := rc.Pipelined(cctx, func(p redis.Pipeliner) error {
		p.Do(cctx, "VUSE", w.ref.Keyspace, w.ref.Shard)
		p.Do(cctx, "VLOGINFO")
		return nil
	})
	if err != nil {
		return 0, err
	}
	res, err := cmds[1].(*redis.Cmd).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, fmt.Errorf("VLOGINFO reply: %v %v", res, err)
	}
	return uint64(res[1]), nil
}

// decodeDump turns a VDUMP reply into changes.
func decodeDump(res []any) ([]lww.Change, error) {
	if len(res) != 2 {
		return nil, fmt.Errorf("%w: VDUMP reply of %d elements", ErrCorrupt, len(res))
	}
	flat, ok := res[1].([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("%w: VDUMP entries", ErrCorrupt)
	}
	out := make([]lww.Change, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		rec, err := lww.DecodeRecord([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%w: VDUMP record of %q: %w", ErrCorrupt, k, err)
		}
		out = append(out, lww.Change{Key: []byte(k), Record: rec})
	}
	return out, nil
}
