package store

import (
	"bytes"
	"context"
	"fmt"
	"runtime"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/topology"
)

// Owner names the keys a shard owns: those that a keyspace of Shards shards
// places on shard Index (topology.ShardOf). The zero Owner owns every key;
// one with a negative Shards owns none (a shard a resize removed).
type Owner struct {
	Shards int
	Index  uint32
}

// Owns reports whether key belongs to o.
func (o Owner) Owns(key []byte) bool {
	return o.Shards == 0 || (o.Shards > 0 && topology.ShardOf(key, o.Shards) == o.Index)
}

// ownerState is what SetOwner publishes: the owner, the version the caller
// gave it and, once every commit that checked the previous owner is done,
// the fence index.
type ownerState struct {
	owner   Owner
	version uint64
	fence   uint64
	fenced  bool
}

// SetOwner makes o the shard's owner, tagged with version (the topology's
// version of the resize, say), and returns the fence: the last change-log
// index a local write checked against the previous owner can have. Every
// local write (Commit, Write, Put, Delete) committed after SetOwner returns
// is checked against o, and fails with ErrMoved, writing nothing, if any of
// its keys is not owned; writes with a log index above the fence were all
// checked against o. ApplyRemote and Ingest are never checked: replication
// and copies land whoever owns the key.
//
// The owner is published at once (reads check it from then on); SetOwner
// then waits for the commit in flight, if any, by committing an empty
// request. The owner is kept in memory only: set it again after a restart.
// A later SetOwner replaces an earlier one whatever their versions.
func (s *Shard) SetOwner(ctx context.Context, o Owner, version uint64) (fence uint64, err error) {
	if o.Shards > 0 && uint64(o.Index) >= uint64(o.Shards) {
		return 0, fmt.Errorf("%w: owner shard %d of %d", ErrInvalidConfig, o.Index, o.Shards)
	}
	st := &ownerState{owner: o, version: version}
	s.owner.Store(st)
	// Commits are serialised: the batch that commits this empty request
	// starts after the Store above, so every batch that read the previous
	// owner is done when it is, and every later one reads o.
	req := &commitReq{local: true}
	if _, err := s.submit(ctx, req); err != nil {
		return 0, err
	}
	fenced := &ownerState{owner: o, version: version, fence: req.last, fenced: true}
	s.owner.CompareAndSwap(st, fenced)
	return req.last, nil
}

// Owner returns the shard's owner and the version SetOwner was given with
// it; the zero Owner and 0 if SetOwner was never called.
func (s *Shard) Owner() (Owner, uint64) {
	st := s.owner.Load()
	if st == nil {
		return Owner{}, 0
	}
	return st.owner, st.version
}

// Owns reports whether the shard's current owner owns key.
func (s *Shard) Owns(key []byte) bool {
	o, _ := s.Owner()
	return o.Owns(key)
}

// currentOwner returns the owner without its version.
func (s *Shard) currentOwner() Owner {
	o, _ := s.Owner()
	return o
}

// Fence returns the fence SetOwner computed for the current owner (the last
// change-log index a local write checked against the previous owner can
// have), the version SetOwner was given with it, and false while SetOwner
// has not finished.
func (s *Shard) Fence() (fence, version uint64, ok bool) {
	st := s.owner.Load()
	if st == nil || !st.fenced {
		return 0, 0, false
	}
	return st.fence, st.version, true
}

// CheckOwned returns an error wrapping ErrMoved, naming the shard and its
// owner, unless the shard's current owner owns every key.
func (s *Shard) CheckOwned(keys ...[]byte) error {
	o := s.currentOwner()
	if o.Shards == 0 {
		return nil
	}
	for _, k := range keys {
		if !o.Owns(k) {
			return o.moved(s.id)
		}
	}
	return nil
}

func (o Owner) moved(id ShardID) error {
	if o.Shards < 0 {
		return fmt.Errorf("%w: %s owns no keys", ErrMoved, id)
	}
	return fmt.Errorf("%w: %s holds shard %d of %d", ErrMoved, id, o.Index, o.Shards)
}

// minDumpVisits is the least number of records one filtered dump page may
// step over (see DumpShardOf).
const minDumpVisits = 10000

// dumpYieldEvery is how many keys a filtered dump visits between yields.
const dumpYieldEvery = 256

// DumpShardOf returns the stored records (tombstones and expired values
// included) from start on, in key order, whose key a keyspace of shards
// shards places on shard target (topology.ShardOf): the records a resize
// moves there. It returns at most limit of them, stepping over at most
// max(16*limit, minDumpVisits) records (and never more than a plain scan
// page), so a page is bounded even when few keys match. Next is set
// whenever the shard holds more records past the page. Only matching
// records are decoded.
func (s *Shard) DumpShardOf(start []byte, shards int, target uint32, limit int) (ScanResult, error) {
	if _, _, err := scanBounds(ScanOptions{Start: start, Limit: limit}); err != nil {
		return ScanResult{}, err
	}
	if err := s.acquire(); err != nil {
		return ScanResult{}, err
	}
	defer s.mu.RUnlock()
	return s.dumpShardOf(nil, start, shards, target, limit)
}

// dumpShardOf is DumpShardOf reading snap (nil: the latest data); s.mu
// must be held for reading.
func (s *Shard) dumpShardOf(snap *grocksdb.Snapshot, start []byte, shards int, target uint32, limit int) (ScanResult, error) {
	budget := min(max(16*limit, minDumpVisits), maxScanVisits)
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false)
	if snap != nil {
		ro.SetSnapshot(snap)
	}
	it := s.db.NewIteratorCF(ro, s.cfData)
	defer it.Close()
	var res ScanResult
	visits := 0
	for it.Seek(start); it.Valid(); it.Next() {
		k := it.Key()
		key := k.Data()
		if len(res.Items) == limit || visits == budget {
			res.Next = bytes.Clone(key)
			k.Free()
			break
		}
		visits++
		if visits%dumpYieldEvery == 0 {
			// A long run of cgo iterator calls keeps its P: let the
			// foreground goroutines run.
			runtime.Gosched()
		}
		if topology.ShardOf(key, shards) != target {
			k.Free()
			continue
		}
		key = bytes.Clone(key)
		k.Free()
		v := it.Value()
		rec, err := decodeCopy(key, v.Data())
		v.Free()
		if err != nil {
			return ScanResult{}, err
		}
		res.Items = append(res.Items, Item{Key: key, Record: rec})
	}
	if err := it.Err(); err != nil {
		return ScanResult{}, fmt.Errorf("store: dump: %w", err)
	}
	return res, nil
}
