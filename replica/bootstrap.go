package replica

import (
	"context"
	"fmt"

	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// bootstrapFrom makes this shard a copy of a peer replica's, read with VDUMP
// page by page: the peer's records are merged in with LWW, and records this
// replica holds that the peer no longer has (the peer purged a tombstone
// this replica never saw) are removed, except this replica's own writes
// still waiting in its outbox. A plain merge would let a key deleted long
// ago live on here. The peer keeps serving meanwhile; writes it takes during
// the copy reach this replica through its change log.
func (w *shardWorker) bootstrapFrom(ctx context.Context, peer string) (err error) {
	obs := w.a.cfg.Observer
	obs.RebootstrapStarted(w.ref.Keyspace, w.ref.Shard, peer)
	defer func() { obs.RebootstrapFinished(w.ref.Keyspace, w.ref.Shard, peer, err) }()
	st, ok := w.top.Stores[peer]
	if !ok || st.Addr == "" {
		return fmt.Errorf("no address for peer %s", peer)
	}
	pc, err := w.a.cfg.Dial(ctx, st.Addr)
	if err != nil {
		return err
	}
	defer func() { _ = pc.Close() }()
	outbox, err := w.outboxKeys()
	if err != nil {
		return err
	}
	copied, removed := 0, 0
	req := peerclient.DumpRequest{Keyspace: w.ref.Keyspace, Shard: w.ref.Shard, Limit: 1000}
	err = pc.Dump(ctx, req, func(p peerclient.DumpPage) error {
		if _, err := w.sh.ApplyRemote(ctx, w.source(peer), 0, p.Changes); err != nil {
			return err
		}
		copied += len(p.Changes)
		obs.Copied(CopyBootstrap, w.ref.Keyspace, w.ref.Shard, len(p.Changes), changesBytes(p.Changes))
		n, err := w.forgetAbsent(ctx, p.Start, p.End, p.Changes, outbox)
		removed += n
		return err
	})
	if err != nil {
		return err
	}
	w.log.Info("copied shard from peer", "peer", peer, "records", copied, "removed", removed)
	return nil
}

// outboxKeys lists the keys of this shard's writes not yet published.
func (w *shardWorker) outboxKeys() (map[string]bool, error) {
	keys := map[string]bool{}
	first, last := w.sh.LogBounds()
	for from := first; from <= last; {
		entries, err := w.sh.ReadLog(from, store.MaxScanLimit)
		if err != nil || len(entries) == 0 {
			return keys, err
		}
		for _, e := range entries {
			keys[string(e.Change.Key)] = true
		}
		from = entries[len(entries)-1].Index + 1
	}
	return keys, nil
}

// forgetAbsent removes the records of [start, end) (end nil: to the end)
// that the peer's page does not hold, but for keys in the outbox.
func (w *shardWorker) forgetAbsent(ctx context.Context, start, end []byte, page []lww.Change, outbox map[string]bool) (int, error) {
	peerHas := make(map[string]bool, len(page))
	for _, ch := range page {
		peerHas[string(ch.Key)] = true
	}
	removed := 0
	for {
		res, err := w.sh.Scan(store.ScanOptions{Start: start, End: end, Limit: 1000, IncludeDead: true})
		if err != nil {
			return removed, err
		}
		var gone []store.Item
		for _, it := range res.Items {
			if !peerHas[string(it.Key)] && !outbox[string(it.Key)] {
				gone = append(gone, it)
			}
		}
		if err := w.sh.Forget(ctx, gone); err != nil {
			return removed, err
		}
		removed += len(gone)
		if res.Next == nil {
			return removed, nil
		}
		start = res.Next
	}
}

// peerLogBounds asks a peer for the bounds of its change log of this shard
// (VLOGINFO): the first index still held (not yet published) and the last.
func (w *shardWorker) peerLogBounds(ctx context.Context, peer string) (first, last uint64, err error) {
	st, ok := w.top.Stores[peer]
	if !ok || st.Addr == "" {
		return 0, 0, fmt.Errorf("no address for peer %s", peer)
	}
	pc, err := w.a.cfg.Dial(ctx, st.Addr)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = pc.Close() }()
	res, err := pc.Ints(w.ref.Keyspace, w.ref.Shard, "VLOGINFO")
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("%w: VLOGINFO reply %v", store.ErrCorrupt, res)
	}
	return uint64(res[0]), uint64(res[1]), nil
}
