package store

import (
	"context"
	"runtime"

	"github.com/vasto-kv/vasto/lww"
)

// defaultCleanupPage is RemoveUnowned's page size when none is given.
const defaultCleanupPage = 1000

// RemoveUnowned deletes the records (values, tombstones and expired values)
// of the keys the shard's owner does not own, the keys a resize moved to
// other shards, and returns how many it removed. It scans the whole shard
// in pages of pageSize records (0 or less: 1000; at most MaxBatchWrites) and
// removes each page's unowned records through the committer, each only if it
// is still the record scanned and still unowned by the owner the commit
// checks, without a tombstone and without a log entry. It yields between
// pages so foreground traffic keeps flowing, and stops when ctx ends. With
// the zero Owner it removes nothing.
func (s *Shard) RemoveUnowned(ctx context.Context, pageSize int) (removed int, err error) {
	if pageSize <= 0 {
		pageSize = defaultCleanupPage
	}
	pageSize = min(pageSize, MaxBatchWrites)
	var start []byte
	for {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		owner := s.currentOwner()
		if owner.Shards == 0 {
			return removed, nil
		}
		res, err := s.Scan(ScanOptions{Start: start, Limit: pageSize, IncludeDead: true})
		if err != nil {
			return removed, err
		}
		var writes []Prepared
		for _, it := range res.Items {
			if !owner.Owns(it.Key) {
				writes = append(writes, Prepared{Change: lww.Change{Key: it.Key, Record: it.Record}, forget: true})
			}
		}
		if len(writes) > 0 {
			results, err := s.submit(ctx, &commitReq{writes: writes, source: "cleanup", unowned: true})
			if err != nil {
				return removed, err
			}
			for _, r := range results {
				if r.Applied {
					removed++
				}
			}
		}
		if res.Next == nil {
			return removed, nil
		}
		start = res.Next
		runtime.Gosched()
	}
}
