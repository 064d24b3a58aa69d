package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// ShardID names one shard of one keyspace.
type ShardID struct {
	Keyspace string
	Shard    uint32
}

// String formats the id as keyspace/shard.
func (id ShardID) String() string { return fmt.Sprintf("%s/%d", id.Keyspace, id.Shard) }

// Engine owns a data directory and the shards in it.
type Engine struct {
	cfg   Config
	log   hclog.Logger
	hlc   *lww.HLC
	guard lww.Guard
	cache *grocksdb.Cache

	mu     sync.RWMutex
	shards map[ShardID]*Shard
	closed bool

	notesMu  sync.Mutex
	unplaced map[ShardID]string // see SetUnplaced
}

// Open opens the engine in cfg.Dir, creating it if needed, and opens every
// shard found there.
func Open(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	e := &Engine{
		cfg:    cfg,
		log:    cfg.Logger.Named("engine"),
		hlc:    lww.NewHLC(cfg.Clock),
		guard:  lww.Guard{MaxFuture: cfg.MaxFuture},
		cache:  grocksdb.NewLRUCache(cfg.BlockCacheBytes),
		shards: make(map[ShardID]*Shard),
	}
	ids, err := e.scan()
	if err != nil {
		e.cache.Destroy()
		return nil, err
	}
	for _, id := range ids {
		s, err := openShard(e, id)
		if err != nil {
			return nil, errors.Join(err, e.Close())
		}
		e.shards[id] = s
	}
	e.log.Info("engine open", "dir", cfg.Dir, "shards", len(ids), "sync", cfg.Sync)
	return e, nil
}

// scan lists the shards present on disk.
func (e *Engine) scan() ([]ShardID, error) {
	kss, err := os.ReadDir(e.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("store: read data dir: %w", err)
	}
	var ids []ShardID
	for _, ks := range kss {
		if !ks.IsDir() || !lww.ValidName(ks.Name()) {
			continue
		}
		shards, err := os.ReadDir(filepath.Join(e.cfg.Dir, ks.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read keyspace dir: %w", err)
		}
		for _, sh := range shards {
			n, err := strconv.ParseUint(sh.Name(), 10, 32)
			if err != nil || !sh.IsDir() || strconv.FormatUint(n, 10) != sh.Name() {
				continue
			}
			ids = append(ids, ShardID{Keyspace: ks.Name(), Shard: uint32(n)})
		}
	}
	return ids, nil
}

func (e *Engine) shardDir(id ShardID) string {
	return filepath.Join(e.cfg.Dir, id.Keyspace, strconv.FormatUint(uint64(id.Shard), 10))
}

// CreateShard creates and opens a new empty shard.
func (e *Engine) CreateShard(keyspace string, shard uint32) (*Shard, error) {
	return e.CreateShardAt(keyspace, shard, 1)
}

// CreateShardAt creates and opens a new empty shard whose change log starts
// at index first: a shard created again where an earlier one (dropped)
// published entries continues their numbering, so peers and tokens never
// see an index twice.
func (e *Engine) CreateShardAt(keyspace string, shard uint32, first uint64) (*Shard, error) {
	if !lww.ValidName(keyspace) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, keyspace)
	}
	id := ShardID{Keyspace: keyspace, Shard: shard}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if _, ok := e.shards[id]; ok {
		return nil, fmt.Errorf("%w: %s", ErrShardExists, id)
	}
	s, err := openShard(e, id)
	if err != nil {
		return nil, err
	}
	if first > 1 {
		if err := s.startLogAt(first); err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	e.shards[id] = s
	e.log.Info("shard created", "keyspace", keyspace, "shard", shard, "log_first", max(first, 1))
	return s, nil
}

// EnsureShard returns the shard, creating it if it does not exist.
func (e *Engine) EnsureShard(keyspace string, shard uint32) (*Shard, error) {
	s, err := e.Shard(keyspace, shard)
	if err == nil {
		return s, nil
	}
	s, err = e.CreateShard(keyspace, shard)
	if errors.Is(err, ErrShardExists) {
		return e.Shard(keyspace, shard)
	}
	return s, err
}

// Shard returns an open shard or ErrNoShard.
func (e *Engine) Shard(keyspace string, shard uint32) (*Shard, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	s, ok := e.shards[ShardID{Keyspace: keyspace, Shard: shard}]
	if !ok {
		return nil, fmt.Errorf("%w: %s/%d", ErrNoShard, keyspace, shard)
	}
	return s, nil
}

// Shards lists the open shards in order.
func (e *Engine) Shards() []ShardID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ids := make([]ShardID, 0, len(e.shards))
	for id := range e.shards {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Keyspace != ids[j].Keyspace {
			return ids[i].Keyspace < ids[j].Keyspace
		}
		return ids[i].Shard < ids[j].Shard
	})
	return ids
}

// DropShard closes a shard and deletes its files.
func (e *Engine) DropShard(keyspace string, shard uint32) error {
	id := ShardID{Keyspace: keyspace, Shard: shard}
	if err := e.detach(id); err != nil {
		return err
	}
	if err := os.RemoveAll(e.shardDir(id)); err != nil {
		return fmt.Errorf("store: remove shard %s: %w", id, err)
	}
	e.log.Info("shard dropped", "keyspace", keyspace, "shard", shard)
	return nil
}

// detach closes a shard and forgets it, leaving its files.
func (e *Engine) detach(id ShardID) error {
	e.mu.Lock()
	s, ok := e.shards[id]
	delete(e.shards, id)
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoShard, id)
	}
	return s.Close()
}

// Clock returns the engine's hybrid logical clock.
func (e *Engine) Clock() *lww.HLC { return e.hlc }

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Close closes every shard. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	shards := e.shards
	e.shards = map[ShardID]*Shard{}
	e.mu.Unlock()
	var errs []error
	for _, s := range shards {
		errs = append(errs, s.Close())
	}
	e.cache.Destroy()
	e.log.Info("engine closed", "dir", e.cfg.Dir)
	return errors.Join(errs...)
}
