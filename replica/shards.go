package replica

import (
	"context"
	"time"

	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// Shard is what the agent does to a shard placed on its store
// (*store.Shard). internal/shardtest is its in-memory twin.
type Shard interface {
	// Replication: the change log the publisher drains, and the merge of
	// the peers' changes with the cursor of each.
	ApplyRemote(ctx context.Context, source string, seq uint64, changes []lww.Change) ([]store.Result, error)
	Cursor(source string) (uint64, error)
	LogBounds() (first, last uint64)
	ReadLog(from uint64, max int) ([]store.LogEntry, error)
	TrimLog(below uint64) error
	Logged() <-chan struct{}
	Instance() string
	// Re-bootstrap: the records held, and the removal of those a peer no
	// longer has.
	Scan(opts store.ScanOptions) (store.ScanResult, error)
	Forget(ctx context.Context, items []store.Item) error
	// Serving reads, refusing writes, purging tombstones.
	Serving() bool
	SetServing(ok bool)
	ReadOnly() string
	SetPurgeWatermark(t int64)
	// The placement recorded with the shard, and the keys it owns.
	Epoch() uint64
	SetEpoch(epoch uint64) error
	Layout() (uint64, error)
	SetLayout(shards uint64) error
	Replicas() (uint64, error)
	SetReplicas(n uint64) error
	Owner() (store.Owner, uint64)
	SetOwner(ctx context.Context, o store.Owner, version uint64) (fence uint64, err error)
	RemoveUnowned(ctx context.Context, pageSize int) (removed int, err error)
	// Resize fills: the bulk copy and its progress marks.
	Ingest(ctx context.Context, page []lww.Change) (store.IngestResult, error)
	FillMark(id uint64) (startSeq uint64, copied bool, err error)
	SetFillMark(id, startSeq uint64) error
	ClearFillMark(id uint64) error
	// Property reads an engine property ("rocksdb.estimate-num-keys").
	Property(name string) string
}

// Shards is the store's shard engine as the agent sees it: the shards it
// holds, their creation, removal and setting aside, what the heartbeat
// reports, and the clock. EngineShards adapts a *store.Engine.
type Shards interface {
	// Shard returns an open shard (store.ErrNoShard if it is not open).
	Shard(keyspace string, shard uint32) (Shard, error)
	// CreateShardAt creates a shard whose change log starts at first
	// (store.ErrShardExists if it is open).
	CreateShardAt(keyspace string, shard uint32, first uint64) (Shard, error)
	DropShard(keyspace string, shard uint32) error
	SetAside(keyspace string, shard uint32, tag string) (string, error)
	Shards() []store.ShardID
	Held() []store.HeldInfo
	SetUnplaced(m map[store.ShardID]string)
	// Clock is the engine's clock.
	Clock() lww.Clock
	// MaxFuture is how far a write's event time may lead the clock.
	MaxFuture() time.Duration
}

// EngineShards returns e as the agent's Shards; nil for a nil e.
func EngineShards(e *store.Engine) Shards {
	if e == nil {
		return nil
	}
	return engineShards{e}
}

type engineShards struct{ *store.Engine }

func (s engineShards) Shard(keyspace string, shard uint32) (Shard, error) {
	return asShard(s.Engine.Shard(keyspace, shard))
}

func (s engineShards) CreateShardAt(keyspace string, shard uint32, first uint64) (Shard, error) {
	return asShard(s.Engine.CreateShardAt(keyspace, shard, first))
}

// asShard returns sh as a Shard, nil (not a nil *store.Shard) on error.
func asShard(sh *store.Shard, err error) (Shard, error) {
	if err != nil {
		return nil, err
	}
	return sh, nil
}

func (s engineShards) Clock() lww.Clock         { return s.Config().Clock }
func (s engineShards) MaxFuture() time.Duration { return s.Config().MaxFuture }

// Peer is a connection to another store of the DC (*peerclient.Client):
// paged dumps (re-bootstrap, resize fills), the peer's log bounds and
// fences (Ints), and whether it holds a shard (Use). It is broken after an
// I/O or protocol error and must then be closed.
type Peer interface {
	Dump(ctx context.Context, req peerclient.DumpRequest, fn func(peerclient.DumpPage) error) error
	Ints(keyspace string, shard uint32, args ...string) ([]int64, error)
	Use(keyspace string, shard uint32) error
	// Reset frees the pages a dump with Retain kept.
	Reset()
	Broken() bool
	Close() error
}

// Dial connects to the RESP address of a store.
type Dial func(ctx context.Context, addr string) (Peer, error)

// DialPeer returns the Dial of real stores: internal/peerclient over TCP,
// with TLS and AUTH as opts say.
func DialPeer(opts peerclient.Options) Dial {
	return func(ctx context.Context, addr string) (Peer, error) {
		return peerclient.DialAs[Peer](ctx, addr, opts)
	}
}
