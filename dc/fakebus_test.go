package dc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// fakeBus is an in-memory Bus of one DC: the local copies of the remote
// DCs' change streams are slices of messages numbered from 1 (a test
// stores what the link would have copied with copyIn), durable consumers
// keep an acknowledgement floor and deliver in stream order from one
// goroutine each, and the status of each copy is what the test sets. It
// keeps what the replicator relies on of JetStream (order, sequence
// numbers, headers, subject filters with * and >, consumer positions that
// survive a restart of the consumer) and nothing else: no retention, no
// redelivery timers, no network.
type fakeBus struct {
	mu       sync.Mutex
	streams  map[string]*fakeStream
	durables map[string]*fakeDurable // by stream + "/" + durable
	// status holds, per remote DC, what SourceStatus reports of its copy
	// besides RemoteDC, Stream, Exists, Msgs and LastSeq.
	status map[string]bus.SourceInfo
	// restarts lists the remote DCs whose copies RestartSource restarted.
	restarts []string
	// topologies holds the remote DCs' topology documents.
	topologies map[string][]byte
	// changed is closed and replaced whenever a message is stored or a
	// consumer is deleted.
	changed chan struct{}
}

type fakeStream struct {
	subjects string // filter of the subjects the stream holds
	msgs     []bus.Delivered
}

type fakeDurable struct {
	filter   string
	floor    uint64 // the last stream sequence acknowledged
	inFlight int    // delivered to the handler, not yet acknowledged
}

func newFakeBus() *fakeBus {
	return &fakeBus{
		streams:    map[string]*fakeStream{},
		durables:   map[string]*fakeDurable{},
		status:     map[string]bus.SourceInfo{},
		topologies: map[string][]byte{},
		changed:    make(chan struct{}),
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

func (f *fakeBus) EnsureSourceStream(_ context.Context, cfg bus.SourceConfig) error {
	name, err := bus.SourceStream(cfg.LocalDC, cfg.RemoteDC)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streams[name] == nil {
		f.streams[name] = &fakeStream{subjects: "vasto.chg." + cfg.RemoteDC + ".>"}
	}
	return nil
}

// copyIn stores msgs in the local copy of their DC's change stream, as the
// link would, and returns their sequences there.
func (f *fakeBus) copyIn(stream string, msgs ...bus.Message) ([]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[stream]
	if s == nil {
		return nil, fmt.Errorf("%w: %s", bus.ErrNoStream, stream)
	}
	var seqs []uint64
	for _, m := range msgs {
		if !subjectMatch(s.subjects, m.Subject) {
			return seqs, fmt.Errorf("%w: %s does not hold %s", bus.ErrNoStream, stream, m.Subject)
		}
		h := make(map[string]string, len(m.Header))
		for k, v := range m.Header {
			h[k] = v
		}
		seq := uint64(len(s.msgs)) + 1
		s.msgs = append(s.msgs, bus.Delivered{Subject: m.Subject, Header: h,
			Data: append([]byte(nil), m.Data...), StreamSeq: seq, Time: time.Now().UTC()})
		seqs = append(seqs, seq)
	}
	f.notifyLocked()
	return seqs, nil
}

// setStatus sets what SourceStatus reports of remote's copy.
func (f *fakeBus) setStatus(remote string, info bus.SourceInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[remote] = info
}

func (f *fakeBus) SourceStatus(_ context.Context, localDC string, remoteDCs []string) ([]bus.SourceInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]bus.SourceInfo, 0, len(remoteDCs))
	for _, d := range remoteDCs {
		name, err := bus.SourceStream(localDC, d)
		if err != nil {
			return nil, err
		}
		info := bus.SourceInfo{RemoteDC: d, Stream: name}
		if s := f.streams[name]; s != nil {
			info = f.status[d]
			info.RemoteDC, info.Stream, info.Exists = d, name, true
			info.Msgs, info.LastSeq = uint64(len(s.msgs)), uint64(len(s.msgs))
		}
		out = append(out, info)
	}
	return out, nil
}

func (f *fakeBus) RestartSource(_ context.Context, cfg bus.SourceConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = append(f.restarts, cfg.RemoteDC)
	return nil
}

// restarted returns the remote DCs whose copies were restarted, in order.
func (f *fakeBus) restarted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.restarts...)
}

func (f *fakeBus) GetRemoteTopology(_ context.Context, remoteDC string) ([]byte, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, ok := f.topologies[remoteDC]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", bus.ErrNoTopology, remoteDC)
	}
	return doc, 1, nil
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
	if ms := f.messages(stream, subject); len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	return bus.Delivered{}, fmt.Errorf("%w: %s on %s", bus.ErrNoMessage, stream, subject)
}

// pendingLocked counts the messages of stream after d's floor that match
// its filter; mu is held.
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

// hasConsumer reports whether durable exists on stream.
func (f *fakeBus) hasConsumer(stream, durable string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.durables[stream+"/"+durable] != nil
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
	var out []bus.Delivered
	for _, m := range s.msgs[min(d.floor, uint64(len(s.msgs))):] {
		if subjectMatch(d.filter, m.Subject) && len(out) < bus.DefaultConsumerBatch {
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
