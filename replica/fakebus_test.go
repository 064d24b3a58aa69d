package replica

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// fakeBus is an in-memory Bus: streams are slices of messages numbered
// from 1, durable consumers keep an acknowledgement floor, and consumers
// deliver in stream order from one goroutine each. It keeps what the agent
// relies on of JetStream (order, sequence numbers, headers, subject filters
// with * and >, de-duplication by message id, consumer positions that
// survive a restart of the consumer) and nothing else: no retention, no
// redelivery timers, no network.
type fakeBus struct {
	mu        sync.Mutex
	streams   map[string]*fakeStream
	durables  map[string]*fakeDurable // by stream + "/" + durable
	published []fakeCore              // core NATS publishes (heartbeats)
	// onPublish, when set, decides the outcome of a PublishBatch call (n
	// counts the calls from 1): the first acked messages are stored, then
	// err is returned. Called with mu released.
	onPublish func(n int, msgs []bus.Message) (acked int, err error)
	calls     int
	// batch bounds the messages a consumer hands over at once (0: the bus's
	// default).
	batch int
	// lastErr, when set, is what LastOnSubject returns.
	lastErr error
	// changed is closed and replaced whenever a message is stored or a
	// consumer is deleted.
	changed chan struct{}
}

type fakeStream struct {
	subjects string // filter of the subjects the stream holds
	msgs     []bus.Delivered
	ids      map[string]bool
}

type fakeDurable struct {
	filter   string
	floor    uint64 // the last stream sequence acknowledged
	inFlight int    // delivered to the handler, not yet acknowledged
}

type fakeCore struct {
	Subject string
	Data    []byte
}

func newFakeBus() *fakeBus {
	return &fakeBus{
		streams:  map[string]*fakeStream{},
		durables: map[string]*fakeDurable{},
		changed:  make(chan struct{}),
	}
}

var _ Bus = (*fakeBus)(nil)

// notifyLocked wakes the consumers; mu is held.
func (f *fakeBus) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// subjectMatch reports whether subject matches filter (NATS wildcards).
func subjectMatch(filter, subject string) bool {
	if filter == "" {
		return true
	}
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range ft {
		switch {
		case tok == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case tok != "*" && tok != st[i]:
			return false
		}
	}
	return len(ft) == len(st)
}

func (f *fakeBus) EnsureChangeStream(_ context.Context, cfg bus.StreamConfig) error {
	name, err := bus.ChangeStream(cfg.DC)
	if err != nil {
		return err
	}
	f.addStream(name, "vasto.chg."+cfg.DC+".>")
	return nil
}

// addStream creates stream, holding subjects, if it does not exist.
func (f *fakeBus) addStream(name, subjects string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streams[name] == nil {
		f.streams[name] = &fakeStream{subjects: subjects, ids: map[string]bool{}}
	}
}

// store appends m to the stream holding its subject; mu is held.
func (f *fakeBus) storeLocked(m bus.Message) error {
	for _, s := range f.streams {
		if !subjectMatch(s.subjects, m.Subject) {
			continue
		}
		if m.ID != "" && s.ids[m.ID] {
			return nil // a duplicate counts as stored
		}
		h := make(map[string]string, len(m.Header)+1)
		for k, v := range m.Header {
			h[k] = v
		}
		if m.ID != "" {
			h["Nats-Msg-Id"] = m.ID
			s.ids[m.ID] = true
		}
		s.msgs = append(s.msgs, bus.Delivered{
			Subject: m.Subject, Header: h, Data: append([]byte(nil), m.Data...),
			StreamSeq: uint64(len(s.msgs)) + 1, Time: time.Now().UTC(),
		})
		f.notifyLocked()
		return nil
	}
	return fmt.Errorf("%w: no stream holds %s", bus.ErrNoStream, m.Subject)
}

func (f *fakeBus) PublishBatch(_ context.Context, msgs []bus.Message) (int, error) {
	f.mu.Lock()
	f.calls++
	n, hook := f.calls, f.onPublish
	f.mu.Unlock()
	acked, perr := len(msgs), error(nil)
	if hook != nil {
		acked, perr = hook(n, msgs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range msgs[:acked] {
		if err := f.storeLocked(msgs[i]); err != nil {
			return i, err
		}
	}
	return acked, perr
}

// messages returns the messages of stream on subject (wildcards allowed).
func (f *fakeBus) messages(stream, subject string) []bus.Delivered {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []bus.Delivered
	if s := f.streams[stream]; s != nil {
		for _, m := range s.msgs {
			if subjectMatch(subject, m.Subject) {
				out = append(out, m)
			}
		}
	}
	return out
}

func (f *fakeBus) FirstOnSubject(_ context.Context, stream, subject string, fromSeq uint64) (bus.Delivered, error) {
	for _, m := range f.messages(stream, subject) {
		if m.StreamSeq >= fromSeq {
			return m, nil
		}
	}
	return bus.Delivered{}, fmt.Errorf("%w: %s on %s from %d", bus.ErrNoMessage, stream, subject, fromSeq)
}

func (f *fakeBus) LastOnSubject(_ context.Context, stream, subject string) (bus.Delivered, error) {
	f.mu.Lock()
	err := f.lastErr
	f.mu.Unlock()
	if err != nil {
		return bus.Delivered{}, err
	}
	if ms := f.messages(stream, subject); len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	return bus.Delivered{}, fmt.Errorf("%w: %s on %s", bus.ErrNoMessage, stream, subject)
}

func (f *fakeBus) StreamLastSeq(_ context.Context, stream string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[stream]
	if s == nil {
		return 0, fmt.Errorf("%w: %s", bus.ErrNoStream, stream)
	}
	return uint64(len(s.msgs)), nil
}

// pendingLocked counts the messages of stream after floor that match
// filter; mu is held.
func (f *fakeBus) pendingLocked(stream string, d *fakeDurable) uint64 {
	var n uint64
	if s := f.streams[stream]; s != nil {
		for _, m := range s.msgs[min(d.floor, uint64(len(s.msgs))):] {
			if subjectMatch(d.filter, m.Subject) {
				n++
			}
		}
	}
	return n
}

func (f *fakeBus) DeleteConsumer(_ context.Context, stream, durable string) error {
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

func (f *fakeBus) ConsumerPassed(_ context.Context, stream, durable string, seq uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.durables[stream+"/"+durable]
	if d == nil {
		return false, fmt.Errorf("%w: %s on %s", bus.ErrNoConsumer, durable, stream)
	}
	return d.floor >= seq || (d.inFlight == 0 && f.pendingLocked(stream, d) == 0), nil
}

func (f *fakeBus) ConsumerPending(_ context.Context, stream, durable string) (uint64, time.Time, error) {
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

func (f *fakeBus) Publish(subject string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, fakeCore{subject, append([]byte(nil), data...)})
	return nil
}

func (f *fakeBus) WatchTopology(context.Context, string, func([]byte, uint64)) (Watch, error) {
	return fakeWatch{}, nil
}

type fakeWatch struct{}

func (fakeWatch) Stop() {}

func (f *fakeBus) NewConsumer(cfg bus.ConsumerConfig, h bus.Handler) (Consumer, error) {
	if cfg.Stream == "" || cfg.Durable == "" || h == nil {
		return nil, fmt.Errorf("%w: stream, durable and handler are required", bus.ErrInvalidConfig)
	}
	return &fakeConsumer{f: f, cfg: cfg, h: h, done: make(chan struct{})}, nil
}

// fakeConsumer delivers the messages after its durable's floor in stream
// order, in batches, and moves the floor past a batch its handler accepted.
type fakeConsumer struct {
	f      *fakeBus
	cfg    bus.ConsumerConfig
	h      bus.Handler
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *fakeConsumer) Start(ctx context.Context) error {
	f := c.f
	f.mu.Lock()
	key := c.cfg.Stream + "/" + c.cfg.Durable
	if f.durables[key] == nil {
		f.durables[key] = &fakeDurable{filter: c.cfg.FilterSubject, floor: max(c.cfg.StartSeq, 1) - 1}
	}
	f.mu.Unlock()
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.run(rctx, key)
	return nil
}

// next returns the next batch for the durable and a channel closed when
// there may be more; mu is taken.
func (c *fakeConsumer) next(key string) ([]bus.Delivered, <-chan struct{}) {
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
		if subjectMatch(d.filter, m.Subject) && len(out) < limit {
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

func (c *fakeConsumer) run(ctx context.Context, key string) {
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

func (c *fakeConsumer) Shutdown(ctx context.Context) error {
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
