package client

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/vasto-kv/vasto/topology"
)

// DefaultScanLimit is the Limit of a Scan whose Limit is 0.
const DefaultScanLimit = 100

// scanPageSize is the most entries asked of one shard in one VSCAN.
const scanPageSize = 512

// ScanOptions selects the keys of a Scan: keys with Prefix (if set) in
// [Start, End) (each bound if set; an empty End is unbounded), at most
// Limit of them (0: DefaultScanLimit), in key order.
type ScanOptions struct {
	Prefix     []byte
	Start, End []byte
	Limit      int
}

// validate checks the options locally and returns the limit to use.
func (o ScanOptions) validate() (int, error) {
	switch {
	case o.Limit < 0:
		return 0, fmt.Errorf("%w: scan limit %d is negative", ErrInvalid, o.Limit)
	case len(o.Prefix) > MaxKeySize || len(o.Start) > MaxKeySize || len(o.End) > MaxKeySize:
		return 0, fmt.Errorf("%w: scan bound longer than %d bytes", ErrTooLarge, MaxKeySize)
	case len(o.End) > 0 && bytes.Compare(o.Start, o.End) > 0:
		return 0, fmt.Errorf("%w: scan start %q after end %q", ErrInvalid, clip(o.Start), clip(o.End))
	}
	if o.Limit == 0 {
		return DefaultScanLimit, nil
	}
	return o.Limit, nil
}

// Scan returns the live keys of keyspace ks that o selects, in key order
// across all shards, at most o.Limit of them. It pages through every shard
// (VSCAN ... WITHVERSIONS on a replica that serves it) and merges the pages
// (a k-way merge), fetching only the pages it needs. Items carry versions
// but no expiry (ExpiresAt 0). Keys found on a shard that does not own them
// (left over from a failed target selection or a re-created keyspace) are
// skipped, so Scan returns what Get can read.
//
// A scan is not a snapshot: it sees writes made while it runs on shards it
// has not read yet.
func (c *Client) Scan(ctx context.Context, ks string, o ScanOptions) ([]Item, error) {
	if err := checkKeyspace(ks); err != nil {
		return nil, err
	}
	limit, err := o.validate()
	if err != nil {
		return nil, err
	}
	_, k, err := c.keyspace(ks)
	if err != nil {
		return nil, err
	}
	n := k.Shards
	shards := make([]uint32, n)
	for i := range shards {
		shards[i] = uint32(i)
	}
	fetch := func(ctx context.Context, shard uint32, start []byte, limit int) ([]Item, []byte, error) {
		return c.scanPage(ctx, ks, n, shard, o, start, limit)
	}
	return mergeScan(ctx, shards, o.Start, limit, fetch)
}

// scanPage reads one page of one shard: entries from start on, at most
// limit. next is where the next page starts, nil at the end of the range.
func (c *Client) scanPage(ctx context.Context, ks string, shards int, shard uint32, o ScanOptions, start []byte, limit int) ([]Item, []byte, error) {
	var items []Item
	var next []byte
	errs, err := c.run(ctx, &op{
		ks: ks,
		n:  1,
		shardOf: func(k *topology.Keyspace, _ int) (uint32, error) {
			if k.Shards != shards {
				return 0, fmt.Errorf("client: keyspace %s changed from %d to %d shards during the scan", ks, shards, k.Shards)
			}
			return shard, nil
		},
		add: func(b *cmdBuf, _ int) {
			args := []any{"VSCAN"}
			if len(o.Prefix) > 0 {
				args = append(args, "PREFIX", o.Prefix)
			}
			if len(start) > 0 {
				args = append(args, "START", start)
			}
			if len(o.End) > 0 {
				args = append(args, "END", o.End)
			}
			args = append(args, "LIMIT", strconv.Itoa(limit), "WITHVERSIONS")
			b.add(args...)
		},
		done: func(_ int, reply any, s *topology.Store, _ uint32) error {
			v, err := asSlice(reply)
			if err == nil {
				items, next, err = parseScanValues(v)
			}
			if err != nil {
				return fmt.Errorf("client: store %s (%s): %w", s.ID, s.Addr, err)
			}
			return nil
		},
	})
	if err != nil {
		return nil, nil, err
	}
	if errs[0] != nil {
		return nil, nil, errs[0]
	}
	// Keep only the keys this shard owns.
	kept := items[:0]
	for _, it := range items {
		if topology.ShardOf(it.Key, shards) == shard {
			kept = append(kept, it)
		}
	}
	return kept, next, nil
}

// pageFunc reads a page of one shard from start (nil: from the beginning of
// the range), at most limit entries, and returns where the next page
// starts (nil: the shard is done).
type pageFunc func(ctx context.Context, shard uint32, start []byte, limit int) (items []Item, next []byte, err error)

// cursor is one shard's position in a merge.
type cursor struct {
	shard uint32
	buf   []Item
	pos   int
	next  []byte // start of the next page; nil when the shard is done
}

// fill reads pages until the cursor has an item or the shard is done. It
// reports whether the cursor has an item.
func (cur *cursor) fill(ctx context.Context, fetch pageFunc, limit int) (bool, error) {
	for cur.pos >= len(cur.buf) {
		if cur.next == nil {
			return false, nil
		}
		items, next, err := fetch(ctx, cur.shard, cur.next, limit)
		if err != nil {
			return false, err
		}
		if len(items) == 0 && next != nil && bytes.Equal(next, cur.next) {
			return false, fmt.Errorf("client: scan of shard %d does not advance at %q", cur.shard, clip(next))
		}
		cur.buf, cur.pos, cur.next = items, 0, next
	}
	return true, nil
}

// cursorHeap orders cursors by their current key (then shard).
type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].buf[h[i].pos].Key, h[j].buf[h[j].pos].Key); c != 0 {
		return c < 0
	}
	return h[i].shard < h[j].shard
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeScan merges the shards' key-ordered pages into the first limit
// items in key order. The first page of every shard is read in parallel;
// later pages only when the merge reaches the end of a shard's page. A key
// seen on two shards is returned once, with the greater version.
func mergeScan(ctx context.Context, shards []uint32, start []byte, limit int, fetch pageFunc) ([]Item, error) {
	if limit <= 0 || len(shards) == 0 {
		return []Item{}, nil
	}
	page := func(got int) int { return min(limit-got, scanPageSize) }
	curs := make([]*cursor, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, s := range shards {
		curs[i] = &cursor{shard: s}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur := curs[i]
			cur.buf, cur.next, errs[i] = fetch(ctx, cur.shard, start, page(0))
		}()
	}
	wg.Wait()
	h := make(cursorHeap, 0, len(curs))
	for i, cur := range curs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		ok, err := cur.fill(ctx, fetch, page(0))
		if err != nil {
			return nil, err
		}
		if ok {
			h = append(h, cur)
		}
	}
	heap.Init(&h)
	out := make([]Item, 0, min(limit, 1024))
	for h.Len() > 0 && len(out) < limit {
		cur := h[0]
		it := cur.buf[cur.pos]
		cur.buf[cur.pos] = Item{} // release as we go
		if n := len(out); n > 0 && bytes.Equal(out[n-1].Key, it.Key) {
			if out[n-1].Version.Less(it.Version) {
				out[n-1] = it
			}
		} else {
			out = append(out, it)
		}
		cur.pos++
		if cur.pos == len(cur.buf) {
			if len(out) == limit {
				break
			}
			ok, err := cur.fill(ctx, fetch, page(len(out)))
			if err != nil {
				return nil, err
			}
			if !ok {
				heap.Pop(&h)
				continue
			}
		}
		heap.Fix(&h, 0)
	}
	return out, nil
}
