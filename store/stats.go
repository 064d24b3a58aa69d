package store

import (
	"bufio"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// Observer is told of the engine's events as they happen, for metrics. Its
// methods run on the commit path: they must be cheap, must not block and
// must be safe for concurrent use. Counts that can be read later are kept
// in the shard instead (see Shard.Stats).
type Observer interface {
	// Committed reports one group commit of a shard: how many writes it
	// decided and how long the commit took (deciding, writing the batch
	// and, with Sync, the fsync).
	Committed(id ShardID, writes int, took time.Duration)
}

// shardCounters are the shard's event counters, updated by the committer.
type shardCounters struct {
	applied, notApplied             atomic.Uint64 // local writes
	remoteApplied, remoteNotApplied atomic.Uint64 // changes from other replicas
	conflictsWon, conflictsLost     atomic.Uint64
	commits, commitWrites           atomic.Uint64
}

// Stats are a shard's counters since it was opened in this process.
type Stats struct {
	// Applied and NotApplied count local writes (clients' writes accepted
	// by this store) that won, or lost to the version the key held (stale).
	Applied, NotApplied uint64
	// RemoteApplied and RemoteNotApplied count the changes applied from
	// other replicas (ApplyRemote: same DC and other DCs) that won or lost.
	RemoteApplied, RemoteNotApplied uint64
	// ConflictsWon and ConflictsLost count the writes, local or remote,
	// decided against a version of another DC: the write replaced it (won)
	// or the key kept it (lost).
	ConflictsWon, ConflictsLost uint64
	// Commits counts group commits that decided writes; CommitWrites the
	// writes they decided.
	Commits, CommitWrites uint64
}

// Stats returns the shard's counters.
func (s *Shard) Stats() Stats {
	c := &s.stats
	return Stats{
		Applied: c.applied.Load(), NotApplied: c.notApplied.Load(),
		RemoteApplied: c.remoteApplied.Load(), RemoteNotApplied: c.remoteNotApplied.Load(),
		ConflictsWon: c.conflictsWon.Load(), ConflictsLost: c.conflictsLost.Load(),
		Commits: c.commits.Load(), CommitWrites: c.commitWrites.Load(),
	}
}

// tally counts the outcome of one decided write; cur is the version the
// key held before (have: it held one).
func (c *shardCounters) tally(local, applied bool, w lww.Record, cur lww.Record, have bool) {
	switch {
	case local && applied:
		c.applied.Add(1)
	case local:
		c.notApplied.Add(1)
	case applied:
		c.remoteApplied.Add(1)
	default:
		c.remoteNotApplied.Add(1)
	}
	if !have || cur.Version.DC == w.Version.DC {
		return
	}
	if applied {
		c.conflictsWon.Add(1)
	} else {
		c.conflictsLost.Add(1)
	}
}

// DBStats are a shard's RocksDB figures, read when asked.
type DBStats struct {
	// MemtableBytes is the size of the memtables of every column family.
	MemtableBytes uint64
	// SSTBytes is the size of the live SST files of every column family.
	SSTBytes uint64
	// PendingCompactionBytes estimates the bytes compaction must rewrite
	// to bring every level under its target size.
	PendingCompactionBytes uint64
	// EstimatedKeys estimates the keys of the data column family.
	EstimatedKeys uint64
	// WriteStopped is true while RocksDB stops writes (too many memtables
	// or level-0 files, or too much pending compaction).
	WriteStopped bool
	// DelayedWriteRate is the rate, bytes per second, RocksDB slows writes
	// down to; 0 when writes are not delayed.
	DelayedWriteRate uint64
	// Statistics is false unless Config.Statistics: the fields below are
	// then zero. They are read from RocksDB at most every 10 s.
	Statistics bool
	// BlockCacheHits and BlockCacheMisses count the shard's block-cache
	// lookups since it was opened.
	BlockCacheHits, BlockCacheMisses uint64
	// StallMicros is the time writes were stalled, microseconds.
	StallMicros uint64
}

// DBStats reads the shard's RocksDB properties and, with
// Config.Statistics, its statistics. A shard with no database open (closed,
// or read-only after its reopen failed) reports zeros.
func (s *Shard) DBStats() DBStats {
	if err := s.acquire(); err != nil {
		return DBStats{}
	}
	defer s.mu.RUnlock()
	var st DBStats
	for _, cf := range [...]*grocksdb.ColumnFamilyHandle{s.cfData, s.cfLog, s.cfMeta} {
		st.MemtableBytes += s.intProperty("rocksdb.cur-size-all-mem-tables", cf)
		st.SSTBytes += s.intProperty("rocksdb.live-sst-files-size", cf)
		st.PendingCompactionBytes += s.intProperty("rocksdb.estimate-pending-compaction-bytes", cf)
	}
	st.EstimatedKeys = s.intProperty("rocksdb.estimate-num-keys", s.cfData)
	st.WriteStopped = s.intProperty("rocksdb.is-write-stopped", s.cfData) != 0
	st.DelayedWriteRate = s.intProperty("rocksdb.actual-delayed-write-rate", s.cfData)
	if s.e.cfg.Statistics && len(s.opts) > 0 {
		st.Statistics = true
		st.BlockCacheHits, st.BlockCacheMisses, st.StallMicros = s.tickers()
	}
	return st
}

// tickerRefresh is how often DBStats reads RocksDB's statistics again:
// RocksDB formats all of them (hundreds of tickers and histograms) into one
// string, about half a millisecond per shard, so a scrape every second of a
// store with many shards reads them only every so often.
const tickerRefresh = 10 * time.Second

// tickerCache holds the statistics DBStats read last.
type tickerCache struct {
	mu                  sync.Mutex
	at                  time.Time
	hits, misses, stall uint64
}

// tickers returns the shard's block-cache hits and misses and stall
// microseconds, read at most every tickerRefresh; s.mu held for reading.
func (s *Shard) tickers() (hits, misses, stall uint64) {
	c := &s.tickerCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) >= tickerRefresh {
		t := parseTickers(s.opts[0].GetStatisticsString(),
			"rocksdb.block.cache.hit", "rocksdb.block.cache.miss", "rocksdb.stall.micros")
		c.hits, c.misses, c.stall = t["rocksdb.block.cache.hit"], t["rocksdb.block.cache.miss"], t["rocksdb.stall.micros"]
		c.at = time.Now()
	}
	return c.hits, c.misses, c.stall
}

// intProperty reads an integer property of a column family (0 if RocksDB
// does not know it); s.mu held for reading.
func (s *Shard) intProperty(name string, cf *grocksdb.ColumnFamilyHandle) uint64 {
	v, ok := s.db.GetIntPropertyCF(name, cf)
	if !ok {
		return 0
	}
	return v
}

// parseTickers picks the named tickers ("name COUNT : n" lines) out of
// RocksDB's statistics dump.
func parseTickers(dump string, names ...string) map[string]uint64 {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]uint64, len(names))
	sc := bufio.NewScanner(strings.NewReader(dump))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() && len(out) < len(names) {
		name, rest, ok := strings.Cut(sc.Text(), " COUNT : ")
		if !ok || !want[name] {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}

// OldestLogTime returns the event time (ns since the Unix epoch) of the
// first entry still in the change log: the oldest write not yet published
// and trimmed. ok is false when the log is empty.
func (s *Shard) OldestLogTime() (t int64, ok bool) {
	first, last := s.LogBounds()
	if first > last {
		return 0, false
	}
	entries, err := s.ReadLog(first, 1)
	if err != nil || len(entries) == 0 {
		return 0, false
	}
	return entries[0].Change.Record.Version.Time, true
}

// Tally sums what applying changes did (res are ApplyRemote's results for
// them): how many won under LWW, and the newest event time among them (0
// if there are none). Replication reports it to its observers.
func Tally(changes []lww.Change, res []Result) (applied int, newest int64) {
	for i := range res {
		if res[i].Applied {
			applied++
		}
		newest = max(newest, changes[i].Record.Version.Time)
	}
	return applied, newest
}
