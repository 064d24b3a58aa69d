package bus

import (
	"context"
	"time"
)

// Runner is a durable consumer as the packages that replicate run it
// (*Consumer): started once, shut down once.
type Runner interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Stopper is a running topology watch (*Watch).
type Stopper interface {
	Stop()
}

// Ops is every Conn operation the replication packages (replica, dc) use,
// with consumers and watches returned as Runner and Stopper, so that an
// in-memory twin (internal/bustest) can stand in for NATS in their unit
// tests. Each of those packages declares the narrower subset it needs; Ops
// satisfies all of them. ConnOps adapts a *Conn.
type Ops interface {
	EnsureChangeStream(ctx context.Context, cfg StreamConfig) error
	EnsureSourceStream(ctx context.Context, cfg SourceConfig) error
	SourceStatus(ctx context.Context, localDC string, remoteDCs []string) ([]SourceInfo, error)
	RestartSource(ctx context.Context, cfg SourceConfig) error
	PublishBatch(ctx context.Context, msgs []Message) (acked int, err error)
	Publish(subject string, data []byte) error
	FirstOnSubject(ctx context.Context, stream, subject string, fromSeq uint64) (Delivered, error)
	LastOnSubject(ctx context.Context, stream, subject string) (Delivered, error)
	StreamLastSeq(ctx context.Context, stream string) (uint64, error)
	NewConsumer(cfg ConsumerConfig, h Handler) (Runner, error)
	DeleteConsumer(ctx context.Context, stream, durable string) error
	ConsumerPassed(ctx context.Context, stream, durable string, seq uint64) (bool, error)
	ConsumerPending(ctx context.Context, stream, durable string) (pending uint64, ackFloorTime time.Time, err error)
	WatchTopology(ctx context.Context, dc string, fn func(doc []byte, rev uint64)) (Stopper, error)
	GetRemoteTopology(ctx context.Context, remoteDC string) (doc []byte, rev uint64, err error)
}

// ConnOps returns c as Ops; nil for a nil c.
func ConnOps(c *Conn) Ops {
	if c == nil {
		return nil
	}
	return connOps{c}
}

// connOps is a *Conn whose consumers and watches are returned as
// interfaces.
type connOps struct{ *Conn }

func (c connOps) NewConsumer(cfg ConsumerConfig, h Handler) (Runner, error) {
	k, err := c.Conn.NewConsumer(cfg, h)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (c connOps) WatchTopology(ctx context.Context, dc string, fn func(doc []byte, rev uint64)) (Stopper, error) {
	w, err := c.Conn.WatchTopology(ctx, dc, fn)
	if err != nil {
		return nil, err
	}
	return w, nil
}
