package dc

import (
	"context"
	"time"

	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
)

// Shard is what cross-DC replication does to a local shard (*store.Shard):
// read the cursor of a remote source, and merge remote changes with
// last-writer-wins while raising that cursor. internal/shardtest is its
// in-memory twin.
type Shard interface {
	ID() store.ShardID
	// Cursor returns the highest index of source applied here (0: none).
	Cursor(source string) (uint64, error)
	// ApplyRemote merges changes with LWW and raises source's cursor to
	// seq (0 leaves it), without logging them for publication.
	ApplyRemote(ctx context.Context, source string, seq uint64, changes []lww.Change) ([]store.Result, error)
}

// Shards is the store's shard engine as the replicator sees it: its open
// shards and its clock. EngineShards adapts a *store.Engine.
type Shards interface {
	// Shard returns an open shard (store.ErrNoShard if it is not open).
	Shard(keyspace string, shard uint32) (Shard, error)
	// Clock is the engine's clock.
	Clock() lww.Clock
	// MaxFuture is how far a write's event time may lead the clock.
	MaxFuture() time.Duration
}

// EngineShards returns e as the replicator's Shards; nil for a nil e.
func EngineShards(e *store.Engine) Shards {
	if e == nil {
		return nil
	}
	return engineShards{e}
}

type engineShards struct{ e *store.Engine }

func (s engineShards) Shard(keyspace string, shard uint32) (Shard, error) {
	sh, err := s.e.Shard(keyspace, shard)
	if err != nil {
		return nil, err
	}
	return sh, nil
}

func (s engineShards) Clock() lww.Clock         { return s.e.Config().Clock }
func (s engineShards) MaxFuture() time.Duration { return s.e.Config().MaxFuture }

// Peer is a connection to a store of a remote DC, for the copy of a
// re-bootstrap (*peerclient.Client): paged dumps. It is broken after an
// I/O or protocol error and must then be closed.
type Peer interface {
	Dump(ctx context.Context, req peerclient.DumpRequest, fn func(peerclient.DumpPage) error) error
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
