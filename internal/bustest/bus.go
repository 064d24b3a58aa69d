package bustest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// Bus is an in-memory bus.Ops of one DC. Streams are slices of messages
// numbered from 1: the DC's change stream (EnsureChangeStream), filled by
// PublishBatch, and the local copies of remote DCs' change streams
// (EnsureSourceStream), filled by CopyIn as the link would. Durable
// consumers keep an acknowledgement floor and deliver in stream order, in
// batches, from one goroutine each. It keeps what the replication packages
// rely on of JetStream (order, sequence numbers, headers, subject filters
// with * and >, de-duplication by message id, consumer positions that
// survive a restart of the consumer) and nothing else: no retention, no
// redelivery timers, no network. The status of a copy, the remote
// topologies and failures are what the test sets.
type Bus struct {
	mu        sync.Mutex
	streams   map[string]*stream
	durables  map[string]*durable // by stream + "/" + durable
	published []Core              // core NATS publishes (heartbeats)
	// onPublish, when set, decides the outcome of a PublishBatch call.
	onPublish func(n int, msgs []bus.Message) (acked int, err error)
	calls     int
	// batch bounds the messages a consumer hands over at once (0: the
	// bus's default).
	batch int
	// lastErr, when set, is what LastOnSubject returns.
	lastErr error
	// status holds, per remote DC, what SourceStatus reports of its copy
	// besides RemoteDC, Stream, Exists, Msgs and LastSeq.
	status     map[string]bus.SourceInfo
	restarts   []string
	topologies map[string][]byte
	// changed is closed and replaced whenever a message is stored or a
	// consumer is deleted.
	changed chan struct{}
}

// Core is a core NATS publish (Publish).
type Core struct {
	Subject string
	Data    []byte
}

type stream struct {
	subjects string // filter of the subjects the stream holds
	sourced  bool   // a copy of a remote stream: filled by CopyIn only
	msgs     []bus.Delivered
	ids      map[string]bool
}

type durable struct {
	filter   string
	floor    uint64 // the last stream sequence acknowledged
	inFlight int    // delivered to the handler, not yet acknowledged
}

// New returns an empty bus.
func New() *Bus {
	return &Bus{
		streams:    map[string]*stream{},
		durables:   map[string]*durable{},
		status:     map[string]bus.SourceInfo{},
		topologies: map[string][]byte{},
		changed:    make(chan struct{}),
	}
}

var _ bus.Ops = (*Bus)(nil)

// notifyLocked wakes the consumers; mu is held.
func (f *Bus) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// SubjectMatch reports whether subject matches filter (NATS wildcards; an
// empty filter matches everything).
func SubjectMatch(filter, subject string) bool {
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

// SetOnPublish makes fn decide the outcome of every later PublishBatch
// call (n counts the calls from 1): the first acked messages are stored,
// then err is returned. fn is called with no lock held.
func (f *Bus) SetOnPublish(fn func(n int, msgs []bus.Message) (acked int, err error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onPublish = fn
}

// SetBatch bounds the messages a consumer hands over at once (0: the
// bus's default).
func (f *Bus) SetBatch(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batch = n
}

// SetLastErr makes LastOnSubject fail with err (nil: answer again).
func (f *Bus) SetLastErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = err
}

// SetStatus sets what SourceStatus reports of remote's copy (RemoteDC,
// Stream, Exists, Msgs and LastSeq are filled in).
func (f *Bus) SetStatus(remote string, info bus.SourceInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[remote] = info
}

// SetRemoteTopology sets the topology document GetRemoteTopology returns
// for remote.
func (f *Bus) SetRemoteTopology(remote string, doc []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topologies[remote] = slices.Clone(doc)
}

// Restarted returns the remote DCs whose copies RestartSource restarted,
// in order.
func (f *Bus) Restarted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.restarts)
}

// Published returns the core publishes, in order.
func (f *Bus) Published() []Core {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.published)
}

// HasConsumer reports whether durable exists on stream.
func (f *Bus) HasConsumer(stream, durable string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.durables[stream+"/"+durable] != nil
}

// Messages returns the messages of stream on subject (wildcards allowed).
func (f *Bus) Messages(stream, subject string) []bus.Delivered {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []bus.Delivered
	if s := f.streams[stream]; s != nil {
		for _, m := range s.msgs {
			if SubjectMatch(subject, m.Subject) {
				out = append(out, m)
			}
		}
	}
	return out
}

func (f *Bus) EnsureChangeStream(_ context.Context, cfg bus.StreamConfig) error {
	name, err := bus.ChangeStream(cfg.DC)
	if err != nil {
		return err
	}
	f.addStream(name, "vasto.chg."+cfg.DC+".>", false)
	return nil
}

func (f *Bus) EnsureSourceStream(_ context.Context, cfg bus.SourceConfig) error {
	name, err := bus.SourceStream(cfg.LocalDC, cfg.RemoteDC)
	if err != nil {
		return err
	}
	f.addStream(name, "vasto.chg."+cfg.RemoteDC+".>", true)
	return nil
}

// addStream creates stream name, holding subjects, if it does not exist.
func (f *Bus) addStream(name, subjects string, sourced bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.streams[name] == nil {
		f.streams[name] = &stream{subjects: subjects, sourced: sourced, ids: map[string]bool{}}
	}
}

// appendLocked stores m in s and returns its sequence (0: a duplicate id);
// mu is held.
func (f *Bus) appendLocked(s *stream, m bus.Message) uint64 {
	if m.ID != "" && s.ids[m.ID] {
		return 0
	}
	h := maps.Clone(m.Header)
	if h == nil {
		h = map[string]string{}
	}
	if m.ID != "" {
		h["Nats-Msg-Id"] = m.ID
		s.ids[m.ID] = true
	}
	seq := uint64(len(s.msgs)) + 1
	s.msgs = append(s.msgs, bus.Delivered{Subject: m.Subject, Header: h,
		Data: slices.Clone(m.Data), StreamSeq: seq, Time: time.Now().UTC()})
	f.notifyLocked()
	return seq
}

// storeLocked appends m to the (not sourced) stream holding its subject;
// a duplicate id counts as stored. mu is held.
func (f *Bus) storeLocked(m bus.Message) error {
	for _, name := range slices.Sorted(maps.Keys(f.streams)) {
		if s := f.streams[name]; !s.sourced && SubjectMatch(s.subjects, m.Subject) {
			f.appendLocked(s, m)
			return nil
		}
	}
	return fmt.Errorf("%w: no stream holds %s", bus.ErrNoStream, m.Subject)
}

// CopyIn stores msgs in stream (a local copy of a remote DC's change
// stream) as the link would, and returns their sequences there.
func (f *Bus) CopyIn(stream string, msgs ...bus.Message) ([]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[stream]
	if s == nil {
		return nil, fmt.Errorf("%w: %s", bus.ErrNoStream, stream)
	}
	var seqs []uint64
	for _, m := range msgs {
		if !SubjectMatch(s.subjects, m.Subject) {
			return seqs, fmt.Errorf("%w: %s does not hold %s", bus.ErrNoStream, stream, m.Subject)
		}
		if seq := f.appendLocked(s, m); seq > 0 {
			seqs = append(seqs, seq)
		}
	}
	return seqs, nil
}

func (f *Bus) PublishBatch(_ context.Context, msgs []bus.Message) (int, error) {
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

func (f *Bus) Publish(subject string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, Core{subject, slices.Clone(data)})
	return nil
}

func (f *Bus) FirstOnSubject(_ context.Context, stream, subject string, fromSeq uint64) (bus.Delivered, error) {
	for _, m := range f.Messages(stream, subject) {
		if m.StreamSeq >= fromSeq {
			return m, nil
		}
	}
	return bus.Delivered{}, fmt.Errorf("%w: %s on %s from %d", bus.ErrNoMessage, stream, subject, fromSeq)
}

func (f *Bus) LastOnSubject(_ context.Context, stream, subject string) (bus.Delivered, error) {
	f.mu.Lock()
	err := f.lastErr
	f.mu.Unlock()
	if err != nil {
		return bus.Delivered{}, err
	}
	if ms := f.Messages(stream, subject); len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	return bus.Delivered{}, fmt.Errorf("%w: %s on %s", bus.ErrNoMessage, stream, subject)
}

func (f *Bus) StreamLastSeq(_ context.Context, stream string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[stream]
	if s == nil {
		return 0, fmt.Errorf("%w: %s", bus.ErrNoStream, stream)
	}
	return uint64(len(s.msgs)), nil
}

func (f *Bus) SourceStatus(_ context.Context, localDC string, remoteDCs []string) ([]bus.SourceInfo, error) {
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

func (f *Bus) RestartSource(_ context.Context, cfg bus.SourceConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = append(f.restarts, cfg.RemoteDC)
	return nil
}

func (f *Bus) GetRemoteTopology(_ context.Context, remoteDC string) ([]byte, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, ok := f.topologies[remoteDC]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", bus.ErrNoTopology, remoteDC)
	}
	return slices.Clone(doc), 1, nil
}

// WatchTopology delivers nothing: tests hand topologies to what they test.
func (f *Bus) WatchTopology(context.Context, string, func([]byte, uint64)) (bus.Stopper, error) {
	return watch{}, nil
}

type watch struct{}

func (watch) Stop() {}
