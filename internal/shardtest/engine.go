package shardtest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// Config configures a twin engine, as store.Config does a real one.
type Config struct {
	DC, Node  string
	Clock     lww.Clock
	MaxFuture time.Duration
}

// Engine is an in-memory shard engine: the open shards of one store.
type Engine struct {
	cfg      Config
	hlc      *lww.HLC
	mu       sync.Mutex
	shards   map[store.ShardID]*Shard
	unplaced map[store.ShardID]string
	aside    []string
	opened   int
}

// New returns an engine with no shard. A nil Clock is a manual clock at
// 1; a zero MaxFuture is 5 s.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = lww.NewManualClock(1)
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = 5 * time.Second
	}
	return &Engine{cfg: cfg, hlc: lww.NewHLC(cfg.Clock), shards: map[store.ShardID]*Shard{}}
}

// Clock is the engine's clock.
func (e *Engine) Clock() lww.Clock { return e.cfg.Clock }

// MaxFuture is how far a write's event time may lead the clock.
func (e *Engine) MaxFuture() time.Duration { return e.cfg.MaxFuture }

// Shard returns an open shard, or store.ErrNoShard.
func (e *Engine) Shard(keyspace string, shard uint32) (*Shard, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := store.ShardID{Keyspace: keyspace, Shard: shard}
	sh, ok := e.shards[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNoShard, id)
	}
	return sh, nil
}

// CreateShard creates a shard whose change log starts at 1.
func (e *Engine) CreateShard(keyspace string, shard uint32) (*Shard, error) {
	return e.CreateShardAt(keyspace, shard, 1)
}

// CreateShardAt creates an empty shard whose change log starts at first;
// store.ErrShardExists if it is open.
func (e *Engine) CreateShardAt(keyspace string, shard uint32, first uint64) (*Shard, error) {
	if !lww.ValidName(keyspace) {
		return nil, fmt.Errorf("%w: %q", store.ErrBadName, keyspace)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := store.ShardID{Keyspace: keyspace, Shard: shard}
	if _, ok := e.shards[id]; ok {
		return nil, fmt.Errorf("%w: %s", store.ErrShardExists, id)
	}
	e.opened++
	sh := newShard(e, id, max(first, 1), strconv.Itoa(e.opened))
	e.shards[id] = sh
	return sh, nil
}

// DropShard closes a shard and deletes it; store.ErrNoShard if it is not
// open.
func (e *Engine) DropShard(keyspace string, shard uint32) error {
	_, err := e.detach(store.ShardID{Keyspace: keyspace, Shard: shard})
	return err
}

// SetAside closes a shard and keeps its data out of the way; it returns
// where (a name, not a path).
func (e *Engine) SetAside(keyspace string, shard uint32, tag string) (string, error) {
	id := store.ShardID{Keyspace: keyspace, Shard: shard}
	if _, err := e.detach(id); err != nil {
		return "", err
	}
	name := ".aside/" + keyspace + "." + strconv.FormatUint(uint64(shard), 10) + "." + tag
	e.mu.Lock()
	e.aside = append(e.aside, name)
	e.mu.Unlock()
	return name, nil
}

func (e *Engine) detach(id store.ShardID) (*Shard, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sh, ok := e.shards[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNoShard, id)
	}
	delete(e.shards, id)
	sh.close()
	return sh, nil
}

// Aside lists the shards set aside, in order.
func (e *Engine) Aside() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.aside)
}

// Shards lists the open shards, in order.
func (e *Engine) Shards() []store.ShardID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.SortedFunc(maps.Keys(e.shards), func(a, b store.ShardID) int {
		return cmp.Or(cmp.Compare(a.Keyspace, b.Keyspace), cmp.Compare(a.Shard, b.Shard))
	})
}

// Held describes every open shard, in order.
func (e *Engine) Held() []store.HeldInfo {
	var out []store.HeldInfo
	for _, id := range e.Shards() {
		sh, err := e.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		layout, _ := sh.Layout()
		replicas, _ := sh.Replicas()
		out = append(out, store.HeldInfo{ID: id, Epoch: sh.Epoch(), Shards: int(min(layout, 1<<20)),
			Replicas: int(min(replicas, 1<<10))})
	}
	return out
}

// SetUnplaced records the shards held here that the topology does not
// place here, and why.
func (e *Engine) SetUnplaced(m map[store.ShardID]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unplaced = maps.Clone(m)
}

// Unplaced returns what SetUnplaced recorded.
func (e *Engine) Unplaced() map[store.ShardID]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.unplaced)
}

// As returns sh as I, an interface *Shard implements (a replication
// package's Shard), and nil rather than a nil *Shard on error: what an
// adapter of Engine to such a package's Shards returns.
func As[I any](sh *Shard, err error) (I, error) {
	var zero I
	if err != nil {
		return zero, err
	}
	return any(sh).(I), nil
}

// ShardsAs is an Engine as a replication package's Shards, whose shards
// are its interface I (which *Shard implements).
type ShardsAs[I any] struct{ *Engine }

// Shard returns an open shard as I.
func (s ShardsAs[I]) Shard(keyspace string, shard uint32) (I, error) {
	return As[I](s.Engine.Shard(keyspace, shard))
}

// CreateShardAt creates a shard whose log starts at first, as I.
func (s ShardsAs[I]) CreateShardAt(keyspace string, shard uint32, first uint64) (I, error) {
	return As[I](s.Engine.CreateShardAt(keyspace, shard, first))
}
