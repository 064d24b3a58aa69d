// Package store is Vasto's shard engine: one RocksDB per (keyspace,
// shard), last-writer-wins commits, the change log, ingest, checkpoints and
// the compaction filter. It is the only package that talks to RocksDB
// (through grocksdb); it never speaks a client protocol (package server
// serves an Engine over RESP) and never touches the bus: the cluster agent
// (package replica) and cross-DC replication (package dc) drive it.
//
// # Layout on disk
//
// An Engine owns a data directory. Each (keyspace, shard) is its own RocksDB
// under <dir>/<keyspace>/<shard>/, so a shard can be created, checkpointed,
// copied and dropped whole. Each shard database has three column families:
//
//	default   user key -> lww record encoding (value or tombstone, version, expiry)
//	log       8-byte big-endian log index -> lww change encoding (key + record)
//	meta      bookkeeping: "log/first", "cursor/<source>"
//
// What every shard can share, the shards of an engine share (see shared.go):
// one LRU cache, charged for the memtables too through one write buffer
// manager (Config.BlockCacheBytes, Config.MemtableBytes), RocksDB's default
// thread pools and a logger that discards RocksDB's info log. Nothing is
// preallocated, a shard keeps at most Config.ShardOpenFiles table files
// open, and the engine refuses shards past Config.MaxOpenFiles. Open and
// Close work on the shards in parallel, and nothing is flushed on close or
// after recovery: the write-ahead log is the durability.
//
// The 64-bit hash that placement and resharding use is not stored: it is
// xxhash64 of the key bytes, cheaper to recompute (a few nanoseconds for
// short keys) than to store and read back with every value.
//
// # Write path
//
// Every shard has a single committer goroutine. Writers hand it prepared
// changes; it takes everything pending at once (group commit), reads the
// current records of all touched keys with one MultiGet, keeps the winners
// under last-writer-wins, and writes the new records, one change-log entry per
// accepted write (gap-free, increasing log indexes) and the log bookkeeping
// in one RocksDB WriteBatch. Writers are answered after the batch is in the
// WAL. Because one goroutine decides every write of a shard, concurrent
// writers to one key are linearised without locks.
//
// Writes applied from another replica (ApplyRemote) go through the same
// committer, record the source's cursor in the same batch, and never enter
// this shard's own change log, so they are never echoed back.
//
// # Durability
//
// By default a write is acknowledged once it is in RocksDB's write-ahead log
// in the operating system's page cache: it survives the process being killed
// (kill -9) but not a crash of the machine or a power loss, which can lose the
// last writes acknowledged before it. With Config.Sync every batch is fsynced
// before its writers are answered; group commit amortises the fsync over all
// writes pending at that moment.
//
// Imports: grocksdb (store is the only package that does), hclog, topology, wire,
// lww and internal/retry; never bus, NATS, a RESP package, replica or dc,
// even transitively (checked by internal/archtest).
package store
