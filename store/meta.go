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
		if err := s.db.DeleteCF(s.wo, s.cfMeta, []byte(key)); err != nil {
			return fmt.Errorf("store: delete %s: %w", key, err)
		}
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	if err := s.db.PutCF(s.wo, s.cfMeta, []byte(key), b[:]); err != nil {
		return fmt.Errorf("store: write %s: %w", key, err)
	}
	return nil
}
