package store

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

// purgeFilter is the compaction filter of a shard's data. It drops the value
// of an expired record at once, keeping a tombstone with the same version,
// and forgets a tombstone once it has been dead for the grace period and is
// at or below the purge watermark. Records it cannot decode are kept.
type purgeFilter struct {
	clock     lww.Clock
	grace     int64
	watermark atomic.Int64

	// RocksDB copies a replacement value after Filter returns; keep the
	// last few alive until then.
	mu   sync.Mutex
	keep [64][]byte
	next int
}

func newPurgeFilter(clock lww.Clock, grace time.Duration) *purgeFilter {
	f := &purgeFilter{clock: clock, grace: int64(grace)}
	f.watermark.Store(math.MaxInt64)
	return f
}

// decide is the pure rule: what compaction does with rec at now.
func (f *purgeFilter) decide(rec lww.Record, now int64) (remove, bury bool) {
	dead := rec.DeadSince()
	if dead == 0 || dead > now {
		return false, false
	}
	if dead <= now-f.grace && dead <= f.watermark.Load() {
		return true, false
	}
	return false, rec.Kind == lww.KindValue
}

// Filter implements grocksdb.CompactionFilter.
func (f *purgeFilter) Filter(_ int, _, val []byte) (bool, []byte) {
	rec, err := lww.DecodeRecord(val)
	if err != nil {
		return false, nil
	}
	remove, bury := f.decide(rec, f.clock.Now())
	if remove || !bury {
		return remove, nil
	}
	nv, err := lww.AppendRecord(nil, rec.Buried())
	if err != nil {
		return false, nil
	}
	f.mu.Lock()
	f.keep[f.next] = nv
	f.next = (f.next + 1) % len(f.keep)
	f.mu.Unlock()
	return false, nv
}

// Name implements grocksdb.CompactionFilter.
func (f *purgeFilter) Name() string { return "vasto.purge" }

// SetIgnoreSnapshots implements grocksdb.CompactionFilter.
func (f *purgeFilter) SetIgnoreSnapshots(bool) {}

// Destroy implements grocksdb.CompactionFilter.
func (f *purgeFilter) Destroy() {}
