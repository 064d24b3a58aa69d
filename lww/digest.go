package lww

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// Digest summarises a set of live records, so that replicas can be
// compared without shipping their data: a SHA-256 over, for each record
// added, the key and the value, each preceded by its length as a uvarint,
// then the event time as 8 bytes big-endian. Add records in key order;
// the origin of a version is left out, as the same write has the same
// event time everywhere. A store's VDIGEST and the drills' verification
// both compute it with this type, so the two always agree.
type Digest struct {
	h     hash.Hash
	count int
	buf   [binary.MaxVarintLen64]byte
}

// NewDigest returns an empty digest.
func NewDigest() *Digest { return &Digest{h: sha256.New()} }

// Add adds one live record.
func (d *Digest) Add(key, value []byte, eventTime int64) {
	d.field(key)
	d.field(value)
	binary.BigEndian.PutUint64(d.buf[:8], uint64(eventTime))
	d.h.Write(d.buf[:8])
	d.count++
}

func (d *Digest) field(b []byte) {
	d.h.Write(d.buf[:binary.PutUvarint(d.buf[:], uint64(len(b)))])
	d.h.Write(b)
}

// Count returns how many records were added.
func (d *Digest) Count() int { return d.count }

// Sum returns the digest in hex (64 characters).
func (d *Digest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
