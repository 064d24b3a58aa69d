package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/linxGnu/grocksdb"
)

// Column family names and meta keys.
const (
	cfNameData = "default"
	cfNameLog  = "log"
	cfNameMeta = "meta"

	metaLogFirst  = "log/first"
	metaEpoch     = "epoch"
	metaCursorPfx = "cursor/"
)

// Shard is one keyspace shard: one RocksDB with its data, change log and
// bookkeeping. All methods are safe for concurrent use.
type Shard struct {
	id  ShardID
	dir string
	e   *Engine
	log hclog.Logger

	db     *grocksdb.DB
	cfData *grocksdb.ColumnFamilyHandle
	cfLog  *grocksdb.ColumnFamilyHandle
	cfMeta *grocksdb.ColumnFamilyHandle
	ro     *grocksdb.ReadOptions
	wo     *grocksdb.WriteOptions
	opts   []*grocksdb.Options
	data   *grocksdb.Options // the data column family's, one of opts
	bbto   *grocksdb.BlockBasedTableOptions
	filter *purgeFilter

	// mu guards closed and keeps the database open while an operation
	// uses it: operations hold it for reading, Close for writing.
	mu     sync.RWMutex
	closed bool

	// snaps are the dump snapshots open on the database (see
	// NewDumpSnapshot); closeDB releases them.
	snapMu sync.Mutex
	snaps  map[*DumpSnapshot]struct{}

	queue commitQueue
	c     committer // owned by the current commit leader
	stats shardCounters
	// tickerCache holds the RocksDB statistics DBStats read last.
	tickerCache tickerCache

	lastIndex  atomic.Uint64 // last change-log index written
	firstIndex atomic.Uint64 // first change-log index not trimmed
	trimMu     sync.Mutex

	cursorMu sync.Mutex
	cursors  map[string]uint64

	// instance names this opening of the shard. A shard dropped and created
	// again in the same process restarts its change-log indexes at 1, so
	// the change messages' ids carry it: JetStream must not take the new
	// entries for duplicates of the old ones.
	instance string

	// notCaughtUp is set while the shard catches up with its peers after a
	// restart; reads through the server are refused meanwhile.
	notCaughtUp atomic.Bool
	// epoch is the keyspace incarnation (see topology.Keyspace.Epoch).
	epoch atomic.Uint64
	// layout and replicas are the meta records of the same names (see
	// Layout, Replicas); metaMu orders their writes.
	layout, replicas atomic.Uint64
	metaMu           sync.Mutex
	// logged is signalled (without blocking) after every commit that added
	// change-log entries.
	logged chan struct{}
	// pubMu guards pubCh, closed and replaced after every trim of the
	// change log (see WaitPublished).
	pubMu sync.Mutex
	pubCh chan struct{}
	// owner is the keys the shard owns (see SetOwner); nil: all of them.
	owner atomic.Pointer[ownerState]

	// wmu serializes the writes to the database with the read-only check
	// (see dbWrite); halted is set while the shard is read-only.
	wmu    sync.Mutex
	halted atomic.Pointer[readOnlyState]
	// fault, set by tests only, fails writes to the database on command.
	fault atomic.Pointer[func(op string) error]
	// The recovery goroutine of a read-only shard (see recoverLoop).
	recMu      sync.Mutex
	recRunning bool
	recStopped bool
	recStop    chan struct{}
	recWG      sync.WaitGroup
}

func openShard(e *Engine, id ShardID) (*Shard, error) {
	dir := e.shardDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create shard dir: %w", err)
	}
	removeIngestFiles(e.log, dir)
	s := &Shard{
		id:       id,
		dir:      dir,
		e:        e,
		log:      e.log.Named("shard").With("keyspace", id.Keyspace, "shard", id.Shard),
		cursors:  make(map[string]uint64),
		logged:   make(chan struct{}, 1),
		pubCh:    make(chan struct{}),
		recStop:  make(chan struct{}),
		instance: strconv.FormatUint(rand.Uint64(), 36),
	}
	if err := s.openDB(false); err != nil {
		return nil, err
	}
	s.notCaughtUp.Store(e.cfg.StartNotServing)
	epoch, err := s.metaUint(metaEpoch)
	if err != nil {
		s.closeDB()
		return nil, err
	}
	s.epoch.Store(epoch)
	if err := s.loadCachedMeta(); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.loadLogBounds(); err != nil {
		s.closeDB()
		return nil, err
	}
	s.c.init(s)
	s.log.Debug("shard open", "dir", dir, "log_first", s.firstIndex.Load(), "log_last", s.lastIndex.Load())
	return s, nil
}

// openDB opens the shard's database, for writes or read-only.
func (s *Shard) openDB(readOnly bool) error {
	cfg := s.e.cfg
	s.bbto = grocksdb.NewDefaultBlockBasedTableOptions()
	s.bbto.SetBlockCache(s.e.shared.cache)
	s.bbto.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))
	s.bbto.SetCacheIndexAndFilterBlocks(true)
	s.bbto.SetBlockSize(16 << 10)

	base := grocksdb.NewDefaultOptions()
	base.SetCreateIfMissing(true)
	base.SetCreateIfMissingColumnFamilies(true)
	base.SetMaxBackgroundJobs(2)
	base.SetMaxTotalWalSize(maxShardWALBytes)
	// RocksDB's info log goes nowhere (see shared): no LOG file to write
	// on a full disk, where its next line aborts a RocksDB built with
	// assertions (Debian's is). Our own logs say what failed (see dbWrite).
	base.SetInfoLogLevel(grocksdb.FatalInfoLogLevel)
	base.SetMaxOpenFiles(cfg.shardOpenFiles() + rocksdbReservedFiles)
	base.SetMaxFileOpeningThreads(1)
	base.SetSkipStatsUpdateOnDBOpen(true)
	base.SetManifestPreallocationSize(64 << 10)
	base.SetStatsDumpPeriodSec(0)
	base.SetStatsPersistPeriodSec(0)
	if cfg.Statistics {
		base.EnableStatistics()
	}
	s.e.shared.apply(base)

	data := grocksdb.NewDefaultOptions()
	data.SetBlockBasedTableFactory(s.bbto)
	data.SetWriteBufferSize(cfg.WriteBufferBytes)
	data.SetArenaBlockSize(arenaBlockBytes)
	data.SetCompression(grocksdb.LZ4Compression)
	data.SetLevelCompactionDynamicLevelBytes(true)
	if s.filter == nil {
		// Kept across reopens: it holds the purge watermark.
		s.filter = newPurgeFilter(s.e.cfg.Clock, cfg.TombstoneGrace)
	}
	data.SetCompactionFilter(s.filter)

	logOpts := grocksdb.NewDefaultOptions()
	logOpts.SetWriteBufferSize(cfg.WriteBufferBytes / 2)
	logOpts.SetArenaBlockSize(arenaBlockBytes)
	logOpts.SetCompression(grocksdb.LZ4Compression)

	meta := grocksdb.NewDefaultOptions()
	meta.SetWriteBufferSize(4 << 20)
	meta.SetArenaBlockSize(arenaBlockBytes / 4)

	s.opts = []*grocksdb.Options{base, data, logOpts, meta}
	s.data = data
	var db *grocksdb.DB
	var cfs []*grocksdb.ColumnFamilyHandle
	var err error
	if readOnly {
		db, cfs, err = openDBReadOnly(base, s.dir, []*grocksdb.Options{data, logOpts, meta})
	} else {
		db, cfs, err = grocksdb.OpenDbColumnFamilies(base, s.dir,
			[]string{cfNameData, cfNameLog, cfNameMeta},
			[]*grocksdb.Options{data, logOpts, meta})
	}
	if err != nil {
		s.destroyOpts()
		return fmt.Errorf("store: open shard %s: %w", s.id, err)
	}
	s.db, s.cfData, s.cfLog, s.cfMeta = db, cfs[0], cfs[1], cfs[2]
	s.ro = grocksdb.NewDefaultReadOptions()
	s.wo = grocksdb.NewDefaultWriteOptions()
	s.wo.SetSync(cfg.Sync)
	return nil
}

// Per-shard sizes that keep an idle shard cheap.
const (
	// maxShardWALBytes makes a shard flush the column families that keep
	// its oldest write-ahead log alive once its logs pass it, so an idle
	// column family (meta) does not hold old logs on disk.
	maxShardWALBytes = 64 << 20
	// arenaBlockBytes is the unit in which a memtable takes memory (and is
	// charged to the shared write buffer manager): a shard written a little
	// holds a few of these, not a megabyte per column family.
	arenaBlockBytes = 64 << 10
)

func (s *Shard) destroyOpts() {
	for _, o := range s.opts {
		o.Destroy()
	}
	s.opts, s.data = nil, nil
}

func (s *Shard) closeDB() {
	s.releaseSnapshots()
	s.cfData.Destroy()
	s.cfLog.Destroy()
	s.cfMeta.Destroy()
	s.db.Close()
	s.ro.Destroy()
	s.wo.Destroy()
	s.destroyOpts()
}

// loadLogBounds restores the change-log indexes: the first index from the
// meta column family (written by TrimLog), the last from the log's last key,
// or first-1 when the log is empty. Nothing else is written per commit.
func (s *Shard) loadLogBounds() error {
	first, err := s.metaUint(metaLogFirst)
	if err != nil {
		return err
	}
	if first == 0 {
		first = 1
	}
	last := first - 1
	it := s.db.NewIteratorCF(s.ro, s.cfLog)
	defer it.Close()
	it.SeekToLast()
	if it.Valid() {
		k := it.Key()
		defer k.Free()
		if k.Size() != 8 {
			return fmt.Errorf("%w: log key of %d bytes", ErrCorrupt, k.Size())
		}
		last = binary.BigEndian.Uint64(k.Data())
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("store: read log bounds: %w", err)
	}
	if last+1 < first {
		return fmt.Errorf("%w: log last %d before first %d", ErrCorrupt, last, first)
	}
	s.lastIndex.Store(last)
	s.firstIndex.Store(first)
	return nil
}

func (s *Shard) metaUint(key string) (uint64, error) {
	v, err := s.db.GetCF(s.ro, s.cfMeta, []byte(key))
	if err != nil {
		return 0, fmt.Errorf("store: read %s: %w", key, err)
	}
	defer v.Free()
	if !v.Exists() {
		return 0, nil
	}
	if v.Size() != 8 {
		return 0, fmt.Errorf("%w: meta %s has %d bytes", ErrCorrupt, key, v.Size())
	}
	return binary.BigEndian.Uint64(v.Data()), nil
}

// ID returns the shard's keyspace and number.
func (s *Shard) ID() ShardID { return s.id }

// Instance names this opening of the shard (random, in memory only).
func (s *Shard) Instance() string { return s.instance }

// Dir returns the shard's directory.
func (s *Shard) Dir() string { return s.dir }

// acquire keeps the database open for one operation; release with s.mu.RUnlock.
func (s *Shard) acquire() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("%w: shard %s", ErrClosed, s.id)
	}
	if s.db == nil {
		// A read-only shard whose reopen failed even read-only.
		s.mu.RUnlock()
		return fmt.Errorf("%w: %s: database not open", ErrReadOnly, s.id)
	}
	return nil
}

// Close waits for the writes and reads in flight (every submitted write is
// committed and answered), syncs the WAL (unless the shard is read-only)
// and closes the database. It is idempotent.
func (s *Shard) Close() error {
	s.stopRecovery()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.c.destroy()
	if s.db == nil {
		return nil
	}
	var err error
	if s.halted.Load() == nil {
		// Not after a failed write: the log writer that failed must not be
		// used again. What the WAL holds is replayed on open.
		err = s.db.FlushWAL(true)
	}
	s.closeDB()
	s.db = nil
	if err != nil {
		return fmt.Errorf("store: flush wal on close: %w", err)
	}
	s.log.Debug("shard closed")
	return nil
}

// Checkpoint writes a consistent, openable copy of the shard to dir (hard
// links where possible). dir must not exist.
func (s *Shard) Checkpoint(dir string) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	cp, err := s.db.NewCheckpoint()
	if err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	defer cp.Destroy()
	// It flushes the memtables first: a write to the database.
	if err := s.dbWrite("checkpoint", func() error { return cp.CreateCheckpoint(dir, 0) }); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	return nil
}

// Compact runs a full manual compaction of the data, which also purges
// expired values and old tombstones.
func (s *Shard) Compact() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	fo := flushOpts()
	defer fo.Destroy()
	err := s.dbWrite("compact", func() error {
		if err := s.db.FlushCF(s.cfData, fo); err != nil {
			return err
		}
		s.db.CompactRangeCF(s.cfData, grocksdb.Range{})
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: flush: %w", err)
	}
	return nil
}

func flushOpts() *grocksdb.FlushOptions {
	fo := grocksdb.NewDefaultFlushOptions()
	fo.SetWait(true)
	return fo
}

// Epoch returns the keyspace incarnation the shard belongs to (0: none
// recorded, e.g. a store running alone).
func (s *Shard) Epoch() uint64 { return s.epoch.Load() }

// SetEpoch records the keyspace incarnation the shard belongs to.
func (s *Shard) SetEpoch(epoch uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], epoch)
	if err := s.dbWrite("set epoch", func() error { return s.db.PutCF(s.wo, s.cfMeta, []byte(metaEpoch), v[:]) }); err != nil {
		return fmt.Errorf("store: set epoch: %w", err)
	}
	s.epoch.Store(epoch)
	return nil
}

// SetServing marks whether the shard may serve reads: false while it
// catches up with its peers' change logs.
func (s *Shard) SetServing(ok bool) { s.notCaughtUp.Store(!ok) }

// Serving reports whether the shard serves reads.
func (s *Shard) Serving() bool { return !s.notCaughtUp.Load() }

// Logged returns a channel that receives (coalesced) after each commit that
// appended to the change log, so an outbox publisher can wake up.
func (s *Shard) Logged() <-chan struct{} { return s.logged }

// SetPurgeWatermark bounds tombstone purging: a tombstone is purged only if it
// took effect at or before t, in addition to the grace period. Cross-DC
// replication sets it to the time every DC is known to have applied.
func (s *Shard) SetPurgeWatermark(t int64) { s.filter.watermark.Store(t) }

// Property returns a RocksDB property of the data column family, such as
// "rocksdb.estimate-num-keys".
func (s *Shard) Property(name string) string {
	if err := s.acquire(); err != nil {
		return ""
	}
	defer s.mu.RUnlock()
	return s.db.GetPropertyCF(name, s.cfData)
}
