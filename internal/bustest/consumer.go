package bustest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// pendingLocked counts the messages of stream after d's floor that match
// its filter; mu is held.
func (f *Bus) pendingLocked(stream string, d *durable) uint64 {
	var n uint64
	if s := f.streams[stream]; s != nil {
		for _, m := range s.msgs[min(d.floor, uint64(len(s.msgs))):] {
			if SubjectMatch(d.filter, m.Subject) {
				n++
			}
		}
	}
	return n
}

func (f *Bus) DeleteConsumer(_ context.Context, stream, durable string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := stream + "/" + durable
	if f.durables[key] == nil {
		return fmt.Errorf("%w: %s on %s", bus.ErrNoConsumer, durable, stream)
	}
	delete(f.durables, key)
	f.notifyLocked()
	return nil
}

func (f *Bus) ConsumerPassed(_ context.Context, stream, durable string, seq uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.durables[stream+"/"+durable]
	if d == nil {
		return false, fmt.Errorf("%w: %s on %s", bus.ErrNoConsumer, durable, stream)
	}
	return d.floor >= seq || (d.inFlight == 0 && f.pendingLocked(stream, d) == 0), nil
}

func (f *Bus) ConsumerPending(_ context.Context, stream, durable string) (uint64, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.durables[stream+"/"+durable]
	if d == nil {
		return 0, time.Time{}, fmt.Errorf("%w: %s on %s", bus.ErrNoConsumer, durable, stream)
	}
	var at time.Time
	if s := f.streams[stream]; d.floor > 0 && s != nil && d.floor <= uint64(len(s.msgs)) {
		at = s.msgs[d.floor-1].Time
	}
	return f.pendingLocked(stream, d), at, nil
}

func (f *Bus) NewConsumer(cfg bus.ConsumerConfig, h bus.Handler) (bus.Runner, error) {
	if cfg.Stream == "" || cfg.Durable == "" || h == nil {
		return nil, fmt.Errorf("%w: stream, durable and handler are required", bus.ErrInvalidConfig)
	}
	return &consumer{f: f, cfg: cfg, h: h, done: make(chan struct{})}, nil
}

// consumer delivers the messages after its durable's floor in stream
// order, in batches, and moves the floor past a batch its handler accepted.
type consumer struct {
	f      *Bus
	cfg    bus.ConsumerConfig
	h      bus.Handler
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *consumer) Start(ctx context.Context) error {
	f := c.f
	f.mu.Lock()
	key := c.cfg.Stream + "/" + c.cfg.Durable
	if f.durables[key] == nil {
		f.durables[key] = &durable{filter: c.cfg.FilterSubject, floor: max(c.cfg.StartSeq, 1) - 1}
	}
	f.mu.Unlock()
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.run(rctx, key)
	return nil
}

// next returns the next batch for the durable and a channel closed when
// there may be more; mu is taken.
func (c *consumer) next(key string) ([]bus.Delivered, <-chan struct{}) {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	d, s := f.durables[key], f.streams[c.cfg.Stream]
	if d == nil || s == nil {
		return nil, f.changed
	}
	limit := f.batch
	if limit == 0 {
		limit = bus.DefaultConsumerBatch
	}
	var out []bus.Delivered
	for _, m := range s.msgs[min(d.floor, uint64(len(s.msgs))):] {
		if SubjectMatch(d.filter, m.Subject) && len(out) < limit {
			out = append(out, m)
		}
	}
	pending := f.pendingLocked(c.cfg.Stream, d)
	for i := range out {
		out[i].Pending = pending - uint64(i) - 1
	}
	d.inFlight = len(out)
	return out, f.changed
}

func (c *consumer) run(ctx context.Context, key string) {
	defer close(c.done)
	for ctx.Err() == nil {
		msgs, changed := c.next(key)
		if len(msgs) == 0 {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		err := c.h(ctx, msgs)
		c.f.mu.Lock()
		if d := c.f.durables[key]; d != nil {
			d.inFlight = 0
			if err == nil {
				d.floor = msgs[len(msgs)-1].StreamSeq
			}
		}
		c.f.mu.Unlock()
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond): // the nak delay
			}
		}
	}
}

func (c *consumer) Shutdown(ctx context.Context) error {
	c.once.Do(func() {
		if c.cancel == nil {
			close(c.done)
			return
		}
		c.cancel()
	})
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
