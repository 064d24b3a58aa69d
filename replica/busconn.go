package replica

import (
	"context"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// Bus is what the agent needs of the message bus: the DC's change-log
// stream (publish, the ends of a subject, durable consumers and their
// progress), core publish for heartbeats, and the topology watch. bus.Ops
// (ConnBus of a connection) and its in-memory twin (internal/bustest)
// implement it.
type Bus interface {
	EnsureChangeStream(ctx context.Context, cfg bus.StreamConfig) error
	PublishBatch(ctx context.Context, msgs []bus.Message) (acked int, err error)
	FirstOnSubject(ctx context.Context, stream, subject string, fromSeq uint64) (bus.Delivered, error)
	LastOnSubject(ctx context.Context, stream, subject string) (bus.Delivered, error)
	StreamLastSeq(ctx context.Context, stream string) (uint64, error)
	NewConsumer(cfg bus.ConsumerConfig, h bus.Handler) (Consumer, error)
	DeleteConsumer(ctx context.Context, stream, durable string) error
	ConsumerPassed(ctx context.Context, stream, durable string, seq uint64) (bool, error)
	ConsumerPending(ctx context.Context, stream, durable string) (pending uint64, ackFloorTime time.Time, err error)
	Publish(subject string, data []byte) error
	WatchTopology(ctx context.Context, dc string, fn func(doc []byte, rev uint64)) (Watch, error)
}

// Consumer is a durable consumer as the agent runs it (*bus.Consumer).
type Consumer = bus.Runner

// Watch is a running topology watch (*bus.Watch).
type Watch = bus.Stopper

// ConnBus returns c as the agent's Bus (bus.ConnOps); nil for a nil c.
func ConnBus(c *bus.Conn) Bus {
	if c == nil {
		return nil
	}
	return bus.ConnOps(c)
}
