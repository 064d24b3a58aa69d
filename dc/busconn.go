package dc

import (
	"context"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// Bus is what the replicator needs of the message bus: the local copies
// (source streams) of the remote DCs' change streams, their status and
// restart, the ends of a subject in them, durable consumers and their
// progress, and the remote DCs' topologies. bus.Ops (ConnBus of a
// connection) and its in-memory twin (internal/bustest) implement it.
type Bus interface {
	EnsureSourceStream(ctx context.Context, cfg bus.SourceConfig) error
	SourceStatus(ctx context.Context, localDC string, remoteDCs []string) ([]bus.SourceInfo, error)
	RestartSource(ctx context.Context, cfg bus.SourceConfig) error
	FirstOnSubject(ctx context.Context, stream, subject string, fromSeq uint64) (bus.Delivered, error)
	LastOnSubject(ctx context.Context, stream, subject string) (bus.Delivered, error)
	NewConsumer(cfg bus.ConsumerConfig, h bus.Handler) (Consumer, error)
	DeleteConsumer(ctx context.Context, stream, durable string) error
	ConsumerPending(ctx context.Context, stream, durable string) (pending uint64, ackFloorTime time.Time, err error)
	GetRemoteTopology(ctx context.Context, remoteDC string) (doc []byte, rev uint64, err error)
}

// Consumer is a durable consumer as an applier runs it (*bus.Consumer).
type Consumer = bus.Runner

// ConnBus returns c as the replicator's Bus (bus.ConnOps); nil for a nil c.
func ConnBus(c *bus.Conn) Bus {
	if c == nil {
		return nil
	}
	return bus.ConnOps(c)
}
