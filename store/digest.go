package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// Digest summarises the shard's live records as of at: a hex SHA-256 over
// the key, value and event time of every record that is a value not
// expired at at, in key order, and how many there are. Tombstones and
// values expired at at are left out, so two replicas that hold the same
// live data have the same digest whatever dead records each still keeps.
// The origin of a version is not hashed: the same write has the same event
// time everywhere. It reads one consistent snapshot of the shard.
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
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	for it.SeekToFirst(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		hdr, val, err := lww.PeekRecord(v.Data())
		if err == nil && hdr.Live(now) {
			field(k.Data())
			field(val)
			var t [8]byte
			binary.BigEndian.PutUint64(t[:], uint64(hdr.Time))
			h.Write(t[:])
			count++
		}
		if err != nil {
			err = fmt.Errorf("%w: key %q: %w", ErrCorrupt, k.Data(), err)
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
	return hex.EncodeToString(h.Sum(nil)), count, nil
}
