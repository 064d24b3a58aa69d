package store

import (
	"fmt"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/lww"
)

// Config configures an Engine.
type Config struct {
	// Dir is the data directory; each shard lives in Dir/<keyspace>/<shard>.
	Dir string
	// DC and Node name this store in the versions of the writes it accepts.
	DC   string
	Node string
	// Clock is the wall clock; tests and drills inject a skewed one.
	Clock lww.Clock
	// Logger receives the engine's logs.
	Logger hclog.Logger
	// Sync makes every commit fsync the write-ahead log before writers are
	// answered. Without it an acknowledged write survives a process crash
	// but not a machine crash.
	Sync bool
	// MaxFuture bounds how far ahead of Clock a client's event time may be.
	MaxFuture time.Duration
	// TombstoneGrace is how long a tombstone (or an expired value's stand-in)
	// is kept after it took effect before compaction may purge it. Replicas
	// that have been away longer than this must re-bootstrap.
	TombstoneGrace time.Duration
	// BlockCacheBytes is the engine's memory budget: the size of the one
	// LRU cache every shard shares, which holds data, index and filter
	// blocks and is charged for every shard's memtables, so blocks make room
	// when memtables grow.
	BlockCacheBytes uint64
	// MemtableBytes bounds the memtables of all shards together (a part of
	// BlockCacheBytes): past it, the shard being written flushes its
	// memtables. Zero: half of BlockCacheBytes.
	MemtableBytes uint64
	// WriteBufferBytes is the largest memtable of one shard's data (its
	// change log's is half of it): a shard flushes when one fills up even
	// if the engine is within MemtableBytes.
	WriteBufferBytes uint64
	// ShardOpenFiles bounds the table files one shard keeps open (at least
	// 10; zero: 10). A shard also holds shardFixedFiles others open: its
	// write-ahead log, manifest, lock file and directory.
	ShardOpenFiles int
	// MaxOpenFiles is the engine's budget of open files: creating a shard
	// fails with ErrTooManyShards when one more shard, counted at
	// ShardOpenFiles plus its fixed files, would not fit. Zero: four fifths
	// of the process's open-files limit (ulimit -n), the rest left to
	// connections.
	MaxOpenFiles int
	// OpenParallelism is how many shards Open opens, and Close closes, at
	// a time. Zero: defaultOpenParallelism.
	OpenParallelism int
	// MaxCommitWrites bounds how many writes one group commit takes.
	MaxCommitWrites int
	// StartNotServing opens shards refusing reads until a cluster agent
	// has caught them up with their peers (cluster mode).
	StartNotServing bool
	// ReadOnlyProbe is how often a shard that turned read-only after a
	// failed write (a full disk) first checks whether it can reopen its
	// database; the pause doubles after each failed probe, up to 20 times
	// this. Zero: 500 ms.
	ReadOnlyProbe time.Duration
	// NoChangeLog makes local writes to a shard that never belonged to a
	// DC's keyspace (epoch 0) append no change-log entry: a store running
	// alone replicates to nobody, and the log would only grow. Shards that
	// belonged to a DC (a data directory that ran in one before) still
	// log, so that their writes reach the other replicas when the store
	// rejoins. Entries already in a log are kept either way.
	NoChangeLog bool
	// Statistics enables RocksDB's statistics on every shard, so that
	// Shard.DBStats reports block-cache hits and misses and write stalls.
	// They cost a little on every read and write.
	Statistics bool
	// Observer, if set, is told of every group commit (for metrics).
	Observer Observer
}

// Defaults.
const (
	defaultOpenParallelism = 16
	defaultShardOpenFiles  = 10
	// shardFixedFiles is what a shard holds open besides table files.
	shardFixedFiles = 4
	// rocksdbReservedFiles is what RocksDB subtracts from max_open_files
	// for files other than tables (it also makes 20 the least value).
	rocksdbReservedFiles = 10
)

func (c Config) shardOpenFiles() int {
	if c.ShardOpenFiles == 0 {
		return defaultShardOpenFiles
	}
	return c.ShardOpenFiles
}

func (c Config) maxOpenFiles() int {
	if c.MaxOpenFiles == 0 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
			return 1 << 16
		}
		return int(lim.Cur) * 4 / 5
	}
	return c.MaxOpenFiles
}

func (c Config) memtableBytes() uint64 {
	if c.MemtableBytes == 0 {
		return c.BlockCacheBytes / 2
	}
	return c.MemtableBytes
}

func (c Config) openParallelism() int {
	if c.OpenParallelism <= 0 {
		return defaultOpenParallelism
	}
	return c.OpenParallelism
}

// maxShards is how many shards fit in MaxOpenFiles.
func (c Config) maxShards() int {
	return c.maxOpenFiles() / (c.shardOpenFiles() + shardFixedFiles)
}

// defaultReadOnlyProbe is ReadOnlyProbe's default.
const defaultReadOnlyProbe = 500 * time.Millisecond

func (c Config) probeInterval() time.Duration {
	if c.ReadOnlyProbe <= 0 {
		return defaultReadOnlyProbe
	}
	return c.ReadOnlyProbe
}

// DefaultConfig returns a Config for dir with the defaults filled in.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:              dir,
		DC:               "dc1",
		Node:             "store1",
		Clock:            lww.SystemClock(),
		Logger:           hclog.NewNullLogger(),
		MaxFuture:        lww.DefaultMaxFuture,
		TombstoneGrace:   24 * time.Hour,
		BlockCacheBytes:  512 << 20,
		WriteBufferBytes: 64 << 20,
		ShardOpenFiles:   defaultShardOpenFiles,
		OpenParallelism:  defaultOpenParallelism,
		MaxCommitWrites:  4096,
		ReadOnlyProbe:    defaultReadOnlyProbe,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: empty data dir", ErrInvalidConfig)
	case !lww.ValidName(c.DC):
		return fmt.Errorf("%w: bad dc name %q", ErrInvalidConfig, c.DC)
	case !lww.ValidName(c.Node):
		return fmt.Errorf("%w: bad node name %q", ErrInvalidConfig, c.Node)
	case c.Clock == nil:
		return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
	case c.Logger == nil:
		return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
	case c.MaxFuture <= 0:
		return fmt.Errorf("%w: max future must be positive", ErrInvalidConfig)
	case c.TombstoneGrace < 0:
		return fmt.Errorf("%w: negative tombstone grace", ErrInvalidConfig)
	case c.BlockCacheBytes == 0 || c.WriteBufferBytes == 0:
		return fmt.Errorf("%w: cache and write buffer sizes must be positive", ErrInvalidConfig)
	case c.MemtableBytes > c.BlockCacheBytes:
		return fmt.Errorf("%w: memtable budget %d above the memory budget %d", ErrInvalidConfig, c.MemtableBytes, c.BlockCacheBytes)
	case c.ShardOpenFiles != 0 && c.ShardOpenFiles < defaultShardOpenFiles:
		return fmt.Errorf("%w: shard open files %d below %d", ErrInvalidConfig, c.ShardOpenFiles, defaultShardOpenFiles)
	case c.MaxOpenFiles < 0 || c.maxShards() < 1:
		return fmt.Errorf("%w: max open files %d leave no room for one shard (%d)", ErrInvalidConfig, c.MaxOpenFiles, c.shardOpenFiles())
	case c.OpenParallelism < 0:
		return fmt.Errorf("%w: negative open parallelism", ErrInvalidConfig)
	case c.MaxCommitWrites <= 0:
		return fmt.Errorf("%w: max commit writes must be positive", ErrInvalidConfig)
	case c.ReadOnlyProbe < 0:
		return fmt.Errorf("%w: negative read-only probe interval", ErrInvalidConfig)
	}
	return nil
}
