package store

import (
	"fmt"

	"github.com/linxGnu/grocksdb"
)

// DumpSnapshot is a point-in-time view of a shard's data that a paged dump
// reads page after page, so that every page sees the shard as it was when
// the snapshot was taken (a backup's consistent copy). It pins the data it
// sees (RocksDB keeps what it needs until Release), so it is released as
// soon as the dump ends. Closing or reopening the shard releases it too;
// it then answers ErrSnapshotReleased.
type DumpSnapshot struct {
	s    *Shard
	db   *grocksdb.DB
	snap *grocksdb.Snapshot // nil once released; guarded by s.snapMu
	// LogLast is the last change-log index written when the snapshot was
	// taken: every change up to it is in the snapshot.
	LogLast uint64
}

// NewDumpSnapshot takes a snapshot of the shard's data for a paged dump.
func (s *Shard) NewDumpSnapshot() (*DumpSnapshot, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	sn := &DumpSnapshot{s: s, db: s.db, LogLast: s.lastIndex.Load(), snap: s.db.NewSnapshot()}
	if s.snaps == nil {
		s.snaps = map[*DumpSnapshot]struct{}{}
	}
	s.snaps[sn] = struct{}{}
	return sn, nil
}

// Shard returns the shard the snapshot is of.
func (sn *DumpSnapshot) Shard() *Shard { return sn.s }

// DumpShardOf is Shard.DumpShardOf reading the snapshot.
func (sn *DumpSnapshot) DumpShardOf(start []byte, shards int, target uint32, limit int) (ScanResult, error) {
	if _, _, err := scanBounds(ScanOptions{Start: start, Limit: limit}); err != nil {
		return ScanResult{}, err
	}
	s := sn.s
	if err := s.acquire(); err != nil {
		return ScanResult{}, err
	}
	defer s.mu.RUnlock()
	s.snapMu.Lock()
	snap := sn.snap
	s.snapMu.Unlock()
	if snap == nil || sn.db != s.db {
		return ScanResult{}, fmt.Errorf("%w: shard %s", ErrSnapshotReleased, s.id)
	}
	// Release takes s.mu for reading too, and closeDB (which releases
	// every snapshot) runs with s.mu held for writing: the snapshot stays
	// valid while this read holds s.mu, unless the same holder releases it.
	return s.dumpShardOf(snap, start, shards, target, limit)
}

// Release releases the snapshot. It is idempotent.
func (sn *DumpSnapshot) Release() {
	s := sn.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if sn.snap == nil {
		return
	}
	sn.db.ReleaseSnapshot(sn.snap)
	sn.snap = nil
	delete(s.snaps, sn)
}

// releaseSnapshots releases every dump snapshot before the database
// closes; s.mu is held for writing.
func (s *Shard) releaseSnapshots() {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	for sn := range s.snaps {
		sn.db.ReleaseSnapshot(sn.snap)
		sn.snap = nil
	}
	s.snaps = nil
}
