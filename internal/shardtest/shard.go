package shardtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

// Shard is an in-memory shard: records merged with LWW, a change log of the
// local writes, cursors of remote sources and the meta records.
type Shard struct {
	e        *Engine
	id       store.ShardID
	instance string
	logged   chan struct{}

	mu       sync.Mutex
	closed   bool
	records  map[string]lww.Record
	log      []store.LogEntry // entries first..last
	first    uint64
	last     uint64
	cursors  map[string]uint64
	meta     map[string]uint64
	epoch    uint64
	owner    store.Owner
	ownerVer uint64
	serving  bool
	purge    int64
}

// Meta record names of the twin.
const (
	metaLayout   = "layout"
	metaReplicas = "replicas"
	metaFill     = "fill/"
	metaFillDone = "fill-copied/"
)

func newShard(e *Engine, id store.ShardID, first uint64, instance string) *Shard {
	return &Shard{e: e, id: id, instance: instance, logged: make(chan struct{}, 1),
		records: map[string]lww.Record{}, first: first, last: first - 1,
		cursors: map[string]uint64{}, meta: map[string]uint64{}, serving: true}
}

func (s *Shard) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

// lock takes mu unless the shard is closed (store.ErrClosed).
func (s *Shard) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

// ID names the shard.
func (s *Shard) ID() store.ShardID { return s.id }

// Instance names this opening of the shard.
func (s *Shard) Instance() string { return s.instance }

// Put writes value to key as a local write stamped by the engine's clock:
// it wins or loses under LWW, and an applied write enters the change log.
func (s *Shard) Put(ctx context.Context, key, value []byte) (store.Result, error) {
	if err := ctx.Err(); err != nil {
		return store.Result{}, err
	}
	rec := lww.Record{Version: lww.Version{Time: s.e.hlc.Now(), DC: s.e.cfg.DC, Node: s.e.cfg.Node},
		Kind: lww.KindValue, Value: slices.Clone(value)}
	return s.local(lww.Change{Key: slices.Clone(key), Record: rec})
}

// Delete writes a tombstone for key as a local write.
func (s *Shard) Delete(ctx context.Context, key []byte) (store.Result, error) {
	if err := ctx.Err(); err != nil {
		return store.Result{}, err
	}
	rec := lww.Record{Version: lww.Version{Time: s.e.hlc.Now(), DC: s.e.cfg.DC, Node: s.e.cfg.Node}, Kind: lww.KindTombstone}
	return s.local(lww.Change{Key: slices.Clone(key), Record: rec})
}

func (s *Shard) local(ch lww.Change) (store.Result, error) {
	if err := store.CheckKey(ch.Key); err != nil {
		return store.Result{}, err
	}
	if err := s.lock(); err != nil {
		return store.Result{}, err
	}
	defer s.mu.Unlock()
	if !s.owner.Owns(ch.Key) {
		return store.Result{}, fmt.Errorf("%w: %q", store.ErrMoved, ch.Key)
	}
	r := s.mergeLocked(ch)
	if r.Applied {
		s.last++
		s.log = append(s.log, store.LogEntry{Index: s.last, Change: ch})
		select {
		case s.logged <- struct{}{}:
		default:
		}
	}
	return r, nil
}

// mergeLocked stores ch if it wins; mu is held.
func (s *Shard) mergeLocked(ch lww.Change) store.Result {
	old, ok := s.records[string(ch.Key)]
	if ok && !lww.Wins(ch.Record, old) {
		return store.Result{Applied: false, Version: old.Version, Written: ch.Record.Version}
	}
	rec := ch.Record
	rec.Value = slices.Clone(rec.Value)
	s.records[string(ch.Key)] = rec
	return store.Result{Applied: true, Version: ch.Record.Version, Written: ch.Record.Version}
}

// GetRecord returns the stored record of key whatever it is, and whether
// there is one.
func (s *Shard) GetRecord(key []byte) (lww.Record, bool, error) {
	if err := s.lock(); err != nil {
		return lww.Record{}, false, err
	}
	defer s.mu.Unlock()
	r, ok := s.records[string(key)]
	r.Value = slices.Clone(r.Value)
	return r, ok, nil
}

// ApplyRemote merges changes source accepted with LWW and raises source's
// cursor to seq (it never moves backwards); nothing enters the change log.
func (s *Shard) ApplyRemote(ctx context.Context, source string, seq uint64, changes []lww.Change) ([]store.Result, error) {
	if !store.ValidSource(source) {
		return nil, fmt.Errorf("%w: source %q", store.ErrBadName, source)
	}
	if len(changes) > store.MaxBatchWrites {
		return nil, fmt.Errorf("%w: %d writes", store.ErrBatchTooLarge, len(changes))
	}
	now := s.e.cfg.Clock.Now()
	for i, c := range changes {
		if err := store.CheckKey(c.Key); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if err := c.Record.Validate(); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Like the engine's hybrid clock, later local writes are stamped past
	// every remote event time not too far ahead.
	for _, c := range changes {
		if t := c.Record.Version.Time; t <= now+int64(s.e.cfg.MaxFuture) {
			s.e.hlc.Observe(t)
		}
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]store.Result, len(changes))
	for i, c := range changes {
		c.Key = slices.Clone(c.Key)
		out[i] = s.mergeLocked(c)
	}
	s.cursors[source] = max(s.cursors[source], seq)
	return out, nil
}

// Cursor returns the highest position of source applied, or 0.
func (s *Shard) Cursor(source string) (uint64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.cursors[source], nil
}

// Forget removes each item's key if it still holds the item's record.
func (s *Shard) Forget(ctx context.Context, items []store.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, it := range items {
		if cur, ok := s.records[string(it.Key)]; ok && lww.Compare(cur, it.Record) == 0 {
			delete(s.records, string(it.Key))
		}
	}
	return nil
}

// Scan returns entries in key order within the options' bounds: live
// values, or every record with IncludeDead. Next is the first key not
// returned, nil at the end.
func (s *Shard) Scan(opts store.ScanOptions) (store.ScanResult, error) {
	if opts.Limit <= 0 || opts.Limit > store.MaxScanLimit {
		return store.ScanResult{}, fmt.Errorf("%w: limit %d not in 1..%d", store.ErrBadRange, opts.Limit, store.MaxScanLimit)
	}
	if err := s.lock(); err != nil {
		return store.ScanResult{}, err
	}
	defer s.mu.Unlock()
	now := s.e.cfg.Clock.Now()
	var res store.ScanResult
	for _, k := range s.keysLocked(opts.Prefix, opts.Start, opts.End) {
		r := s.records[k]
		if !opts.IncludeDead && !r.Live(now) {
			continue
		}
		if len(res.Items) == opts.Limit {
			res.Next = []byte(k)
			break
		}
		r.Value = slices.Clone(r.Value)
		res.Items = append(res.Items, store.Item{Key: []byte(k), Record: r})
	}
	return res, nil
}

// keysLocked returns the keys with prefix in [start, end) (nil: no bound),
// sorted; mu is held.
func (s *Shard) keysLocked(prefix, start, end []byte) []string {
	var out []string
	for k := range s.records {
		b := []byte(k)
		if bytes.HasPrefix(b, prefix) && (start == nil || bytes.Compare(b, start) >= 0) &&
			(end == nil || bytes.Compare(b, end) < 0) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Ingest merges a page of changes in increasing key order with LWW;
// nothing enters the change log and no cursor moves.
func (s *Shard) Ingest(ctx context.Context, page []lww.Change) (store.IngestResult, error) {
	for i := range page {
		if err := store.CheckKey(page[i].Key); err != nil {
			return store.IngestResult{}, fmt.Errorf("change %d: %w", i, err)
		}
		if i > 0 && bytes.Compare(page[i-1].Key, page[i].Key) >= 0 {
			return store.IngestResult{}, fmt.Errorf("%w: key %d not after key %d", store.ErrBadPage, i, i-1)
		}
		if err := page[i].Record.Validate(); err != nil {
			return store.IngestResult{}, fmt.Errorf("change %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return store.IngestResult{}, err
	}
	if err := s.lock(); err != nil {
		return store.IngestResult{}, err
	}
	defer s.mu.Unlock()
	var res store.IngestResult
	for _, ch := range page {
		ch.Key = slices.Clone(ch.Key)
		if s.mergeLocked(ch).Applied {
			res.Written++
			res.Bytes += int64(len(ch.Key) + len(ch.Record.Value))
		} else {
			res.Skipped++
		}
	}
	return res, nil
}

// RemoveUnowned removes every record whose key the owner does not own.
func (s *Shard) RemoveUnowned(ctx context.Context, _ int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if s.owner.Shards == 0 {
		return 0, nil
	}
	removed := 0
	for k := range s.records {
		if !s.owner.Owns([]byte(k)) {
			delete(s.records, k)
			removed++
		}
	}
	return removed, nil
}

// LogBounds returns the first index still in the change log and the last
// written; the log is empty when first > last.
func (s *Shard) LogBounds() (first, last uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last
}

// ReadLog returns up to n entries from index from on (from the first
// held if from was trimmed).
func (s *Shard) ReadLog(from uint64, n int) ([]store.LogEntry, error) {
	if n <= 0 || n > store.MaxScanLimit {
		return nil, fmt.Errorf("%w: max %d not in 1..%d", store.ErrBadRange, n, store.MaxScanLimit)
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	from = max(from, s.first)
	if from > s.last {
		return nil, nil
	}
	i := int(from - s.first)
	return slices.Clone(s.log[i:min(len(s.log), i+n)]), nil
}

// TrimLog deletes the entries below index below (never past the last).
func (s *Shard) TrimLog(below uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	below = min(below, s.last+1)
	if below <= s.first {
		return nil
	}
	s.log = slices.Clone(s.log[below-s.first:])
	s.first = below
	return nil
}

// Logged receives (coalesced) after each local write that entered the log.
func (s *Shard) Logged() <-chan struct{} { return s.logged }

// Epoch returns the keyspace incarnation recorded (0: none).
func (s *Shard) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// SetEpoch records the keyspace incarnation.
func (s *Shard) SetEpoch(epoch uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.epoch = epoch
	return nil
}

func (s *Shard) getMeta(k string) (uint64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	return s.meta[k], nil
}

func (s *Shard) putMeta(kv map[string]uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	maps.Copy(s.meta, kv)
	return nil
}

// Layout returns the shard count whose keys only the shard holds (0:
// unknown).
func (s *Shard) Layout() (uint64, error) { return s.getMeta(metaLayout) }

// SetLayout records the layout.
func (s *Shard) SetLayout(shards uint64) error {
	return s.putMeta(map[string]uint64{metaLayout: shards})
}

// Replicas returns the keyspace's replica count recorded (0: none).
func (s *Shard) Replicas() (uint64, error) { return s.getMeta(metaReplicas) }

// SetReplicas records the replica count.
func (s *Shard) SetReplicas(n uint64) error {
	return s.putMeta(map[string]uint64{metaReplicas: n})
}

// FillMark returns what the shard recorded of resize fill id.
func (s *Shard) FillMark(id uint64) (startSeq uint64, copied bool, err error) {
	k := strconv.FormatUint(id, 10)
	if startSeq, err = s.getMeta(metaFill + k); err != nil {
		return 0, false, err
	}
	c, err := s.getMeta(metaFillDone + k)
	return startSeq, c != 0, err
}

// SetFillMark records that fill id copied everything and tails after
// startSeq.
func (s *Shard) SetFillMark(id, startSeq uint64) error {
	k := strconv.FormatUint(id, 10)
	return s.putMeta(map[string]uint64{metaFill + k: startSeq, metaFillDone + k: 1})
}

// ClearFillMark removes the records of fill id.
func (s *Shard) ClearFillMark(id uint64) error {
	k := strconv.FormatUint(id, 10)
	return s.putMeta(map[string]uint64{metaFill + k: 0, metaFillDone + k: 0})
}

// SetOwner makes o the owner and returns the fence: the last index of the
// change log.
func (s *Shard) SetOwner(ctx context.Context, o store.Owner, version uint64) (uint64, error) {
	if o.Shards > 0 && uint64(o.Index) >= uint64(o.Shards) {
		return 0, fmt.Errorf("%w: owner shard %d of %d", store.ErrInvalidConfig, o.Index, o.Shards)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	s.owner, s.ownerVer = o, version
	return s.last, nil
}

// Owner returns the owner and its version (zero values: never set).
func (s *Shard) Owner() (store.Owner, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner, s.ownerVer
}

// SetServing marks whether the shard serves reads.
func (s *Shard) SetServing(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serving = ok
}

// Serving reports whether the shard serves reads.
func (s *Shard) Serving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// ReadOnly is why the shard refuses writes: never, here.
func (s *Shard) ReadOnly() string { return "" }

// SetPurgeWatermark records the tombstone purge watermark.
func (s *Shard) SetPurgeWatermark(t int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge = t
}

// PurgeWatermark returns what SetPurgeWatermark recorded.
func (s *Shard) PurgeWatermark() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.purge
}

// Property answers "rocksdb.estimate-num-keys" with the number of
// records, and nothing else.
func (s *Shard) Property(name string) string {
	if name != "rocksdb.estimate-num-keys" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.Itoa(len(s.records))
}

// owns is topology's routing, for the peer's filtered dumps.
func owns(key []byte, shards int, target uint32) bool {
	return shards == 0 || topology.ShardOf(key, shards) == target
}
