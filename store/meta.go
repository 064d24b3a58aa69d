package store

import (
	"encoding/binary"
	"fmt"
)

// Small per-shard records kept in the meta column family by the cluster
// agent (resize fills, layout cleanup).
const (
	// metaLayout is the shard count the shard was last cleaned for: keys
	// that belong to other shards under that count have been removed.
	metaLayout = "layout"
	// metaFillPfx + resize id holds the change-stream sequence a resize
	// fill of this shard started tailing after; metaFillCopiedPfx + id is
	// set once the copy is complete.
	metaFillPfx       = "fill/"
	metaFillCopiedPfx = "fillcopied/"
)

// getMeta reads a uint64 meta record (0 if absent).
func (s *Shard) getMeta(key string) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.metaUint(key)
}

// putMeta writes (or with v == 0 deletes) a uint64 meta record.
func (s *Shard) putMeta(key string, v uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if v == 0 {
		if err := s.dbWrite("delete meta", func() error { return s.db.DeleteCF(s.wo, s.cfMeta, []byte(key)) }); err != nil {
			return fmt.Errorf("store: delete %s: %w", key, err)
		}
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	if err := s.dbWrite("put meta", func() error { return s.db.PutCF(s.wo, s.cfMeta, []byte(key), b[:]) }); err != nil {
		return fmt.Errorf("store: write %s: %w", key, err)
	}
	return nil
}

// startLogAt makes the change log of a shard nobody uses yet (just created,
// not registered in the engine) start at index first.
func (s *Shard) startLogAt(first uint64) error {
	if f, l := s.LogBounds(); l+1 != f || f > first {
		return fmt.Errorf("store: start log at %d: log already holds %d..%d", first, f, l)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], first)
	if err := s.dbWrite("start log", func() error { return s.db.PutCF(s.wo, s.cfMeta, []byte(metaLogFirst), b[:]) }); err != nil {
		return fmt.Errorf("store: start log at %d: %w", first, err)
	}
	s.firstIndex.Store(first)
	s.lastIndex.Store(first - 1)
	return nil
}
