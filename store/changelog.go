package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// LogEntry is one entry of a shard's change log.
type LogEntry struct {
	Index  uint64
	Change lww.Change
}

// LogBounds returns the first index still in the change log and the last
// index written. The log is empty when first > last; indexes start at 1.
func (s *Shard) LogBounds() (first, last uint64) {
	return s.firstIndex.Load(), s.lastIndex.Load()
}

// logsChanges reports whether local writes append change-log entries:
// always in a DC, and for shards of a DC otherwise (see Config.NoChangeLog).
func (s *Shard) logsChanges() bool {
	return !s.e.cfg.NoChangeLog || s.epoch.Load() != 0
}

// ReadLog returns up to max entries of the change log from index from on, in
// index order. Reading from an index that was trimmed starts at the first
// entry still held; callers that need continuity compare indexes.
func (s *Shard) ReadLog(from uint64, max int) ([]LogEntry, error) {
	if max <= 0 || max > MaxScanLimit {
		return nil, fmt.Errorf("%w: max %d not in 1..%d", ErrBadRange, max, MaxScanLimit)
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	last := s.lastIndex.Load()
	// Everything below the first index was trimmed with range deletes: start
	// at the first index and let the iterator ignore range deletes, which
	// all lie below it. Otherwise every new iterator re-reads every range
	// delete still in the memtable, and a publisher that trims after each
	// round makes each following read slower.
	if first := s.firstIndex.Load(); from < first {
		from = first
	}
	if from > last {
		return nil, nil
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false)
	ro.SetIgnoreRangeDeletions(true)
	var upper [8]byte
	binary.BigEndian.PutUint64(upper[:], last+1)
	ro.SetIterateUpperBound(upper[:])
	it := s.db.NewIteratorCF(ro, s.cfLog)
	defer it.Close()
	var start [8]byte
	binary.BigEndian.PutUint64(start[:], from)
	var out []LogEntry
	for it.Seek(start[:]); it.Valid() && len(out) < max; it.Next() {
		k, v := it.Key(), it.Value()
		e, err := decodeLogEntry(k.Data(), v.Data())
		k.Free()
		v.Free()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("store: read log: %w", err)
	}
	return out, nil
}

func decodeLogEntry(k, v []byte) (LogEntry, error) {
	if len(k) != 8 {
		return LogEntry{}, fmt.Errorf("%w: log key of %d bytes", ErrCorrupt, len(k))
	}
	idx := binary.BigEndian.Uint64(k)
	ch, err := lww.DecodeChange(v)
	if err != nil {
		return LogEntry{}, fmt.Errorf("%w: log entry %d: %w", ErrCorrupt, idx, err)
	}
	ch.Key = bytes.Clone(ch.Key)
	if ch.Record.Value != nil {
		ch.Record.Value = bytes.Clone(ch.Record.Value)
	}
	return LogEntry{Index: idx, Change: ch}, nil
}

// TrimLog deletes the change-log entries below index below (for example once
// they are acknowledged downstream). It never trims past the last entry
// written, and trimming below the current first index does nothing.
func (s *Shard) TrimLog(below uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	first := s.firstIndex.Load()
	if last := s.lastIndex.Load(); below > last+1 {
		below = last + 1
	}
	if below <= first {
		return nil
	}
	var lo, hi [8]byte
	binary.BigEndian.PutUint64(lo[:], first)
	binary.BigEndian.PutUint64(hi[:], below)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	wb.DeleteRangeCF(s.cfLog, lo[:], hi[:])
	wb.PutCF(s.cfMeta, []byte(metaLogFirst), hi[:])
	if err := s.dbWrite("trim log", func() error { return s.db.Write(s.wo, wb) }); err != nil {
		return fmt.Errorf("store: trim log: %w", err)
	}
	s.firstIndex.Store(below)
	s.pubMu.Lock()
	close(s.pubCh)
	s.pubCh = make(chan struct{})
	s.pubMu.Unlock()
	return nil
}

// WaitPublished waits until the change-log entry index left the log: the
// publisher trims an entry only once the change log downstream (JetStream)
// acknowledged it. It returns ErrNotPublished, wrapping ctx's error, when
// ctx ends first, and at once when index names no entry (0: the write
// logged nothing).
func (s *Shard) WaitPublished(ctx context.Context, index uint64) error {
	if index == 0 {
		return fmt.Errorf("%w: the write has no change-log entry", ErrNotPublished)
	}
	for {
		s.pubMu.Lock()
		ch := s.pubCh
		s.pubMu.Unlock()
		if s.firstIndex.Load() > index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: log index %d: %w", ErrNotPublished, index, context.Cause(ctx))
		}
	}
}

// Cursor returns the last position of source applied by ApplyRemote, or 0.
func (s *Shard) Cursor(source string) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	return s.cursorLocked(source)
}

// cursorLocked reads a cursor through the cache; s.cursorMu must be held.
func (s *Shard) cursorLocked(source string) (uint64, error) {
	if v, ok := s.cursors[source]; ok {
		return v, nil
	}
	v, err := s.metaUint(metaCursorPfx + source)
	if err != nil {
		return 0, err
	}
	s.cursors[source] = v
	return v, nil
}
