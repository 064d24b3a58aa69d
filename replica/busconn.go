package replica

import (
	"context"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// Bus is what the agent needs of the message bus: the DC's change-log
// stream (publish, the ends of a subject, durable consumers and their
// progress), core publish for heartbeats, and the topology watch. ConnBus
// adapts a *bus.Conn; the methods have *bus.Conn's signatures, except that
// consumers and watches are returned as the interfaces below.
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
type Consumer interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Watch is a running topology watch (*bus.Watch).
type Watch interface {
	Stop()
}

// ConnBus returns c as the agent's Bus; nil for a nil c.
func ConnBus(c *bus.Conn) Bus {
	if c == nil {
		return nil
	}
	return connBus{c}
}

// connBus is a *bus.Conn whose consumers and watches are returned as
// interfaces.
type connBus struct{ *bus.Conn }

func (c connBus) NewConsumer(cfg bus.ConsumerConfig, h bus.Handler) (Consumer, error) {
	k, err := c.Conn.NewConsumer(cfg, h)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (c connBus) WatchTopology(ctx context.Context, dc string, fn func(doc []byte, rev uint64)) (Watch, error) {
	w, err := c.Conn.WatchTopology(ctx, dc, fn)
	if err != nil {
		return nil, err
	}
	return w, nil
}
