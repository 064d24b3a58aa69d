package check

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/vasto-kv/vasto/lww"
)

// Final is the state of a drill after healing and convergence.
type Final struct {
	// Now is the time of the final read, in nanoseconds; records whose
	// expiry is at or before Now are expired.
	Now int64
	// Replicas are every replica's records.
	Replicas []Replica
	// Reads are a client read of every written key in every DC.
	Reads []FinalRead
}

// Replica is every record one store holds for one shard of a keyspace.
type Replica struct {
	DC       string
	Store    string
	Keyspace string
	Shard    uint32
	// Shards is the shard count the DC uses for the keyspace.
	Shards int
	// Records holds every record, tombstones included, by key.
	Records map[string]lww.Record
}

// Name is the replica's "DC/Store".
func (r Replica) Name() string { return r.DC + "/" + r.Store }

// FinalRead is a client read of one key in one DC after convergence.
type FinalRead struct {
	DC       string
	Keyspace string
	Key      string
	Found    bool
	Value    string
}

// Digest returns a deterministic digest of records: SHA-256 over the keys in
// sorted order, each with its record's kind, version, expiry and value, every
// field length-prefixed. Two replicas holding the same records have the same
// digest.
func Digest(records map[string]lww.Record) string {
	keys := make([]string, 0, len(records))
	for k := range records {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	for _, k := range keys {
		r := records[k]
		buf = buf[:0]
		str(k)
		buf = append(buf, byte(r.Kind))
		buf = binary.BigEndian.AppendUint64(buf, uint64(r.Version.Time))
		str(r.Version.DC)
		str(r.Version.Node)
		buf = binary.BigEndian.AppendUint64(buf, uint64(r.ExpiresAt))
		str(string(r.Value))
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}
