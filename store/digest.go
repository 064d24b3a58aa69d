package store

import (
	"fmt"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// Digest summarises the shard's live records as of at: the lww.Digest of
// every record that is a value not expired at at, in key order, and how
// many there are. Tombstones and values expired at at are left out, so two
// replicas that hold the same live data have the same digest whatever dead
// records each still keeps. It reads one consistent snapshot of the shard.
func (s *Shard) Digest(at time.Time) (digest string, count int, err error) {
	if err := s.acquire(); err != nil {
		return "", 0, err
	}
	defer s.mu.RUnlock()
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false)
	it := s.db.NewIteratorCF(ro, s.cfData)
	defer it.Close()
	now := at.UnixNano()
	d := lww.NewDigest()
	for it.SeekToFirst(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		hdr, val, err := lww.PeekRecord(v.Data())
		switch {
		case err != nil:
			err = fmt.Errorf("%w: key %q: %w", ErrCorrupt, k.Data(), err)
		case hdr.Live(now):
			d.Add(k.Data(), val, hdr.Time)
		}
		k.Free()
		v.Free()
		if err != nil {
			return "", 0, err
		}
	}
	if err := it.Err(); err != nil {
		return "", 0, fmt.Errorf("store: digest: %w", err)
	}
	return d.Sum(), d.Count(), nil
}
