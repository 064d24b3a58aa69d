package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

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
	cfg    Config
	log    hclog.Logger
	hlc    *lww.HLC
	guard  lww.Guard
	shared *shared

	mu     sync.RWMutex
	shards map[ShardID]*Shard
	closed bool
	// creating holds the shards being created, outside mu; creates counts
	// them so that Close waits for them.
	creating map[ShardID]struct{}
	creates  sync.WaitGroup

	notesMu  sync.Mutex
	unplaced map[ShardID]string // see SetUnplaced

	// tmplMu guards tmplFiles, the files of the shard template (see
	// cloneTemplate), read once.
	tmplMu    sync.Mutex
	tmplFiles map[string][]byte
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
		cfg:      cfg,
		log:      cfg.Logger.Named("engine"),
		hlc:      lww.NewHLC(cfg.Clock),
		guard:    lww.Guard{MaxFuture: cfg.MaxFuture},
		shared:   newShared(cfg.BlockCacheBytes, cfg.memtableBytes()),
		shards:   make(map[ShardID]*Shard),
		creating: make(map[ShardID]struct{}),
	}
	ids, err := e.scan()
	if err == nil && len(ids) > cfg.maxShards() {
		err = fmt.Errorf("%w: %d shards in %s, room for %d", ErrTooManyShards, len(ids), cfg.Dir, cfg.maxShards())
	}
	if err != nil {
		e.shared.close()
		return nil, err
	}
	start := time.Now()
	shards, err := e.openAll(ids)
	for i, s := range shards {
		if s != nil {
			e.shards[ids[i]] = s
		}
	}
	if err != nil {
		return nil, errors.Join(err, e.Close())
	}
	e.log.Info("engine open", "dir", cfg.Dir, "shards", len(ids), "sync", cfg.Sync,
		"took", time.Since(start).Round(time.Millisecond).String())
	return e, nil
}

// openAll opens the shards ids, OpenParallelism at a time; shards[i] is
// ids[i], nil if it failed to open.
func (e *Engine) openAll(ids []ShardID) ([]*Shard, error) {
	shards := make([]*Shard, len(ids))
	errs := make([]error, len(ids))
	forEachParallel(len(ids), e.cfg.openParallelism(), func(i int) {
		shards[i], errs[i] = openShard(e, ids[i])
	})
	return shards, errors.Join(errs...)
}

// forEachParallel calls fn(0) ... fn(n-1), at most par at a time, and
// returns when all have returned.
func forEachParallel(n, par int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(n, par); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
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
			if strings.HasSuffix(sh.Name(), cloneSuffix) {
				// A shard whose creation was interrupted: never opened.
				if err := os.RemoveAll(filepath.Join(e.cfg.Dir, ks.Name(), sh.Name())); err != nil {
					return nil, fmt.Errorf("store: remove interrupted shard creation: %w", err)
				}
				continue
			}
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
	if err := e.reserve(id); err != nil {
		return nil, err
	}
	defer e.creates.Done()
	s, err := e.createShard(id, first)
	e.mu.Lock()
	delete(e.creating, id)
	closed := e.closed
	if err == nil && !closed {
		e.shards[id] = s
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if closed {
		return nil, errors.Join(ErrClosed, s.Close())
	}
	e.log.Info("shard created", "keyspace", keyspace, "shard", shard, "log_first", max(first, 1))
	return s, nil
}

// reserve marks id as being created, unless it exists, is being created, or
// would not fit in the open-files budget. The caller opens the shard without
// holding e.mu (other shards stay reachable meanwhile) and calls
// e.creates.Done when it is done.
func (e *Engine) reserve(id ShardID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if _, ok := e.shards[id]; ok {
		return fmt.Errorf("%w: %s", ErrShardExists, id)
	}
	if _, ok := e.creating[id]; ok {
		return fmt.Errorf("%w: %s", ErrShardExists, id)
	}
	if n := len(e.shards) + len(e.creating); n >= e.cfg.maxShards() {
		return fmt.Errorf("%w: %s would be shard %d, room for %d", ErrTooManyShards, id, n+1, e.cfg.maxShards())
	}
	e.creating[id] = struct{}{}
	e.creates.Add(1)
	return nil
}

// createShard opens the new shard id and starts its log at first.
func (e *Engine) createShard(id ShardID, first uint64) (*Shard, error) {
	dir := e.shardDir(id)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, fmt.Errorf("store: create keyspace dir: %w", err)
		}
		if err := e.cloneTemplate(dir); err != nil {
			return nil, err
		}
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
	e.creates.Wait()
	start := time.Now()
	list := make([]*Shard, 0, len(shards))
	for _, s := range shards {
		list = append(list, s)
	}
	errs := make([]error, len(list))
	forEachParallel(len(list), e.cfg.openParallelism(), func(i int) { errs[i] = list[i].Close() })
	e.shared.close()
	e.log.Info("engine closed", "dir", e.cfg.Dir, "shards", len(list), "took", time.Since(start).Round(time.Millisecond).String())
	return errors.Join(errs...)
}
