package store

import (
	"bytes"
	"fmt"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// Item is a key with its record.
type Item struct {
	Key    []byte
	Record lww.Record
}

// GetRecord returns the stored record of key whatever it is (value,
// tombstone, expired value) and whether there is one. The value is copied.
func (s *Shard) GetRecord(key []byte) (lww.Record, bool, error) {
	if err := CheckKey(key); err != nil {
		return lww.Record{}, false, err
	}
	if err := s.acquire(); err != nil {
		return lww.Record{}, false, err
	}
	defer s.mu.RUnlock()
	h, err := s.db.GetPinnedCF(s.ro, s.cfData, key)
	if err != nil {
		return lww.Record{}, false, fmt.Errorf("store: get: %w", err)
	}
	defer h.Destroy()
	if !h.Exists() {
		return lww.Record{}, false, nil
	}
	rec, err := decodeCopy(key, h.Data())
	return rec, err == nil, err
}

// Get returns the live record of key, or ErrNotFound if the key has no value,
// was deleted, or has expired.
func (s *Shard) Get(key []byte) (lww.Record, error) {
	rec, ok, err := s.GetRecord(key)
	if err != nil {
		return lww.Record{}, err
	}
	if !ok || !rec.Live(s.e.cfg.Clock.Now()) {
		return lww.Record{}, ErrNotFound
	}
	return rec, nil
}

// MultiGet reads several keys at once. For each key it returns the live
// record and true, or a zero record and false.
func (s *Shard) MultiGet(keys [][]byte) ([]lww.Record, []bool, error) {
	if len(keys) > MaxBatchWrites {
		return nil, nil, fmt.Errorf("%w: %d keys", ErrBatchTooLarge, len(keys))
	}
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return nil, nil, err
		}
	}
	if err := s.acquire(); err != nil {
		return nil, nil, err
	}
	defer s.mu.RUnlock()
	slices, err := s.db.MultiGetCF(s.ro, s.cfData, keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("store: multiget: %w", err)
	}
	defer slices.Destroy()
	now := s.e.cfg.Clock.Now()
	recs := make([]lww.Record, len(keys))
	found := make([]bool, len(keys))
	for i, sl := range slices {
		if !sl.Exists() {
			continue
		}
		rec, err := decodeCopy(keys[i], sl.Data())
		if err != nil {
			return nil, nil, err
		}
		if rec.Live(now) {
			recs[i], found[i] = rec, true
		}
	}
	return recs, found, nil
}

// decodeCopy decodes a stored record and copies its value out of memory
// owned by RocksDB.
func decodeCopy(key, b []byte) (lww.Record, error) {
	rec, err := lww.DecodeRecord(b)
	if err != nil {
		return lww.Record{}, fmt.Errorf("%w: key %q: %w", ErrCorrupt, key, err)
	}
	if rec.Value != nil {
		rec.Value = bytes.Clone(rec.Value)
	}
	return rec, nil
}

// ScanOptions selects the keys a scan visits: those with Prefix, or in
// [Start, End) (an empty End is unbounded), in key order.
type ScanOptions struct {
	Prefix []byte
	Start  []byte
	End    []byte
	// Limit is the most live entries returned (1..MaxScanLimit).
	Limit int
	// IncludeDead returns tombstones and expired values too (for replica
	// comparison and copying), not only live values.
	IncludeDead bool
}

// ScanResult is one page of a scan.
type ScanResult struct {
	Items []Item
	// Next is the key to start the next page from; nil when the scan is done.
	Next []byte
}

// maxScanVisits bounds how many stored records one page may step over, so a
// range full of tombstones cannot make one call unbounded.
const maxScanVisits = 10 * MaxScanLimit

// Scan returns live entries in key order within the options' bounds. A page
// may hold fewer than Limit entries while Next is not nil.
func (s *Shard) Scan(opts ScanOptions) (ScanResult, error) {
	start, end, err := scanBounds(opts)
	if err != nil {
		return ScanResult{}, err
	}
	if err := s.acquire(); err != nil {
		return ScanResult{}, err
	}
	defer s.mu.RUnlock()
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false)
	if end != nil {
		ro.SetIterateUpperBound(end)
	}
	it := s.db.NewIteratorCF(ro, s.cfData)
	defer it.Close()
	now := s.e.cfg.Clock.Now()
	var res ScanResult
	visits := 0
	for it.Seek(start); it.Valid(); it.Next() {
		k := it.Key()
		key := bytes.Clone(k.Data())
		k.Free()
		if len(res.Items) == opts.Limit || visits == maxScanVisits {
			res.Next = key
			break
		}
		visits++
		v := it.Value()
		rec, err := decodeCopy(key, v.Data())
		v.Free()
		if err != nil {
			return ScanResult{}, err
		}
		if opts.IncludeDead || rec.Live(now) {
			res.Items = append(res.Items, Item{Key: key, Record: rec})
		}
	}
	if err := it.Err(); err != nil {
		return ScanResult{}, fmt.Errorf("store: scan: %w", err)
	}
	return res, nil
}

// scanBounds turns options into [start, end) with end nil for unbounded.
func scanBounds(o ScanOptions) (start, end []byte, err error) {
	if o.Limit <= 0 || o.Limit > MaxScanLimit {
		return nil, nil, fmt.Errorf("%w: limit %d not in 1..%d", ErrBadRange, o.Limit, MaxScanLimit)
	}
	if len(o.Prefix) > MaxKeySize || len(o.Start) > MaxKeySize || len(o.End) > MaxKeySize {
		return nil, nil, fmt.Errorf("%w: bound longer than a key", ErrBadRange)
	}
	start, end = o.Start, o.End
	if len(o.Prefix) > 0 {
		pend := prefixEnd(o.Prefix)
		if bytes.Compare(start, o.Prefix) < 0 {
			start = o.Prefix
		}
		if end == nil || (pend != nil && bytes.Compare(pend, end) < 0) {
			end = pend
		}
	}
	if len(end) == 0 {
		end = nil
	}
	if end != nil && bytes.Compare(start, end) > 0 {
		return nil, nil, fmt.Errorf("%w: start after end", ErrBadRange)
	}
	return start, end, nil
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// View calls fn with the live value of key, without copying it: value is
// valid only during fn. It reports whether the key had a live value. The
// server's GET writes the value straight from RocksDB's memory this way.
func (s *Shard) View(key []byte, fn func(h lww.Header, value []byte)) (bool, error) {
	if err := CheckKey(key); err != nil {
		return false, err
	}
	if err := s.acquire(); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	h, err := s.db.GetPinnedCF(s.ro, s.cfData, key)
	if err != nil {
		return false, fmt.Errorf("store: get: %w", err)
	}
	defer h.Destroy()
	if !h.Exists() {
		return false, nil
	}
	hdr, val, err := lww.PeekRecord(h.Data())
	if err != nil {
		return false, fmt.Errorf("%w: key %q: %w", ErrCorrupt, key, err)
	}
	if !hdr.Live(s.e.cfg.Clock.Now()) {
		return false, nil
	}
	fn(hdr, val)
	return true, nil
}
