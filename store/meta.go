package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
)

// Small per-shard records kept in the meta column family for the cluster
// agent (resize fills, layout cleanup, the replica count); see Layout,
// Replicas and FillMark.
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

// Layout returns the shard count the shard was last cleaned for: keys that
// belong to other shards under that count have been removed (0: none
// recorded, the shard may hold keys of any layout).
// The heartbeat reports it for every shard, so it is kept in memory.
func (s *Shard) Layout() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.layout.Load(), nil
}

// SetLayout records the shard count the shard is clean for (0 forgets it:
// the shard may hold keys of another layout).
func (s *Shard) SetLayout(shards uint64) error {
	return s.putMetaCached(metaLayout, shards, &s.layout)
}

// Replicas returns the keyspace's replica count recorded when the shard
// was last placed (0: none recorded). Kept in memory, as Layout.
func (s *Shard) Replicas() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.replicas.Load(), nil
}

// SetReplicas records the keyspace's replica count (0 forgets it).
func (s *Shard) SetReplicas(n uint64) error { return s.putMetaCached(metaReplicas, n, &s.replicas) }

// putMetaCached writes a meta record that the shard also keeps in memory
// (in c), once it is written.
func (s *Shard) putMetaCached(key string, v uint64, c *atomic.Uint64) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if err := s.putMeta(key, v); err != nil {
		return err
	}
	c.Store(v)
	return nil
}

// loadCachedMeta reads the meta records the shard keeps in memory, at open
// and after a reopen.
func (s *Shard) loadCachedMeta() error {
	layout, err := s.metaUint(metaLayout)
	if err != nil {
		return err
	}
	replicas, err := s.metaUint(metaReplicas)
	if err != nil {
		return err
	}
	s.layout.Store(layout)
	s.replicas.Store(replicas)
	return nil
}

// FillMark returns what the shard recorded of resize fill id: the
// change-stream sequence the fill tails after (0: none) and whether its
// copy is complete.
func (s *Shard) FillMark(id uint64) (startSeq uint64, copied bool, err error) {
	k := strconv.FormatUint(id, 10)
	if startSeq, err = s.getMeta(metaFillPfx + k); err != nil {
		return 0, false, err
	}
	c, err := s.getMeta(metaFillCopiedPfx + k)
	return startSeq, c != 0, err
}

// SetFillMark records that resize fill id copied everything and tails the
// change stream after startSeq.
func (s *Shard) SetFillMark(id, startSeq uint64) error {
	k := strconv.FormatUint(id, 10)
	if err := s.putMeta(metaFillPfx+k, startSeq); err != nil {
		return err
	}
	return s.putMeta(metaFillCopiedPfx+k, 1)
}

// ClearFillMark removes the records of resize fill id.
func (s *Shard) ClearFillMark(id uint64) error {
	k := strconv.FormatUint(id, 10)
	return errors.Join(s.putMeta(metaFillPfx+k, 0), s.putMeta(metaFillCopiedPfx+k, 0))
}

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
