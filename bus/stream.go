package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Change-stream defaults.
const (
	DefaultStreamMaxAge     = 24 * time.Hour
	DefaultStreamMaxBytes   = int64(1 << 30)
	DefaultStreamDuplicates = 2 * time.Minute
)

// MaxStreamConsumers is the consumer limit set on the change log and on
// the copies of other DCs' change logs. A stream that sets none gets
// nats-server's default of 1000 (since 2.15), which a DC reaches with a
// few hundred shard replicas; "unlimited" (-1) is not accepted per stream.
const MaxStreamConsumers = 1 << 20

// maxMsgIDLen bounds Message.ID.
const maxMsgIDLen = 256

// StreamConfig configures a DC's change-log stream.
type StreamConfig struct {
	// DC names the datacenter whose changes the stream holds.
	DC string
	// MaxAge is how long messages are kept; default 24 h.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size (oldest messages are dropped);
	// default 1 GiB, -1 for no limit. It is reserved against the server's
	// JetStream MaxStore (default 10 GiB) when the stream is created, so a
	// server holds at most MaxStore/MaxBytes such streams.
	MaxBytes int64
	// Duplicates is the Nats-Msg-Id de-duplication window; default 2 min.
	// At most MaxAge.
	Duplicates time.Duration
	// Replicas is how many servers of the DC's NATS cluster hold the
	// stream; 0: the connection's ConnConfig.Replicas (default 1). Up to 5.
	Replicas int
}

func (cfg StreamConfig) withDefaults() StreamConfig {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultStreamMaxAge
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultStreamMaxBytes
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultStreamDuplicates
	}
	return cfg
}

// EnsureChangeStream creates dc's change-log stream, or updates it to cfg:
// file storage, subjects "vasto.chg.<dc>.>", limits retention, discarding
// the oldest messages.
func (c *Conn) EnsureChangeStream(ctx context.Context, cfg StreamConfig) error {
	cfg = cfg.withDefaults()
	name, err := ChangeStream(cfg.DC)
	if err != nil {
		return err
	}
	switch {
	case cfg.MaxAge < 0:
		return fmt.Errorf("%w: negative max age", ErrInvalidConfig)
	case cfg.MaxBytes < -1:
		return fmt.Errorf("%w: max bytes %d", ErrInvalidConfig, cfg.MaxBytes)
	case cfg.Duplicates < 0 || cfg.Duplicates > cfg.MaxAge:
		return fmt.Errorf("%w: duplicates window %s not in [0, max age %s]", ErrInvalidConfig, cfg.Duplicates, cfg.MaxAge)
	}
	if err := checkReplicas(cfg.Replicas); err != nil {
		return err
	}
	replicas := c.replicasOr(cfg.Replicas)
	if c.isClosing() {
		return ErrClosed
	}
	ctx, cancel := ensureCtx(ctx)
	defer cancel()
	err = retryEnsure(ctx, func(ctx context.Context) error {
		_, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        name,
			Description: "Vasto change log of DC " + cfg.DC,
			Subjects:    []string{changeStreamSubjects(cfg.DC)},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Storage:     jetstream.FileStorage,
			MaxAge:      cfg.MaxAge,
			MaxBytes:    cfg.MaxBytes,
			Duplicates:  cfg.Duplicates,
			Replicas:    replicas,
			// nats-server 2.15 limits a stream that sets no limit to 1000
			// consumers; a DC's change log has one per shard replica and
			// peer, more than that with a few hundred shards.
			MaxConsumers: MaxStreamConsumers,
		})
		return err
	})
	return ensureErr("stream "+name, cfg.MaxBytes, replicas, err)
}

// Message is a message to publish to a stream.
type Message struct {
	// Subject, e.g. from ChangeSubject. No wildcards.
	Subject string
	// ID, if set, is sent as Nats-Msg-Id: the stream stores a message with
	// the same ID only once within its Duplicates window. Printable ASCII,
	// no spaces, at most 256 bytes.
	ID string
	// Header holds extra headers. Keys are 1-64 of A-Z a-z 0-9 _ - and must
	// not start with "Nats-" (reserved: they steer JetStream); values must
	// not contain control characters.
	Header map[string]string
	// Data is the payload (at most the server's max payload, 1 MiB by
	// default, including headers).
	Data []byte
}

func checkMessage(m *Message) error {
	if err := checkSubject(m.Subject, false); err != nil {
		return err
	}
	if len(m.ID) > maxMsgIDLen {
		return fmt.Errorf("%w: id longer than %d bytes", ErrBadMessage, maxMsgIDLen)
	}
	for i := 0; i < len(m.ID); i++ {
		if c := m.ID[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: id %q: space, control or non-ASCII character", ErrBadMessage, m.ID)
		}
	}
	for k, v := range m.Header {
		if !ValidName(k) {
			return fmt.Errorf("%w: header key %q", ErrBadMessage, k)
		}
		if len(k) >= 5 && strings.EqualFold(k[:5], "nats-") {
			return fmt.Errorf("%w: header key %q is reserved", ErrBadMessage, k)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
				return fmt.Errorf("%w: header %q: control character in value", ErrBadMessage, k)
			}
		}
	}
	return nil
}

func natsMsg(m *Message) *nats.Msg {
	nm := nats.NewMsg(m.Subject)
	for k, v := range m.Header {
		nm.Header.Set(k, v)
	}
	nm.Data = m.Data
	return nm
}

// PublishBatch publishes msgs to their streams asynchronously (pipelined,
// up to 4096 in flight per connection), waits for every acknowledgement or
// for ctx to end, and returns how many messages from the start of msgs were
// acknowledged without a gap, so the caller can trim its outbox up to there,
// with the first error. A message with an ID that the stream already holds
// (within its Duplicates window) counts as acknowledged. Messages after a
// failed one may have been stored too: republish them with the same IDs.
//
// Invalid messages are rejected before anything is sent (acked 0, error
// wrapping ErrBadName or ErrBadMessage).
//
// Data is not copied. After an early return (error or ctx), messages still
// in flight may be retransmitted by the client library (it retries a
// publish that found no stream responder), so do not reuse their Data
// buffers then.
func (c *Conn) PublishBatch(ctx context.Context, msgs []Message) (acked int, err error) {
	for i := range msgs {
		if err := checkMessage(&msgs[i]); err != nil {
			return 0, fmt.Errorf("message %d: %w", i, err)
		}
	}
	if c.isClosing() {
		return 0, ErrClosed
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var sendErr error
	for i := range msgs {
		if err := ctx.Err(); err != nil {
			sendErr = err
			break
		}
		var opts []jetstream.PublishOpt
		if msgs[i].ID != "" {
			opts = []jetstream.PublishOpt{jetstream.WithMsgID(msgs[i].ID)}
		}
		f, err := c.js.PublishMsgAsync(natsMsg(&msgs[i]), opts...)
		for errors.Is(err, jetstream.ErrTooManyStalledMsgs) && ctx.Err() == nil {
			// Back-pressure: the window is full; PublishMsgAsync waited
			// 200 ms for a slot. Keep waiting while ctx allows.
			f, err = c.js.PublishMsgAsync(natsMsg(&msgs[i]), opts...)
		}
		if err != nil {
			sendErr = fmt.Errorf("bus: publish %s: %w", msgs[i].Subject, mapErr(err))
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
			acked++
		case perr := <-f.Err():
			return acked, fmt.Errorf("bus: publish %s (message %d): %w", msgs[i].Subject, i, mapErr(perr))
		case <-ctx.Done():
			return acked, fmt.Errorf("bus: publish: waiting for acks: %w", ctx.Err())
		}
	}
	return acked, sendErr
}

// Delivered is a message read from a stream.
type Delivered struct {
	Subject string
	// Header holds the message's headers (first value of each), including
	// Nats-Msg-Id and other Nats-* headers the server set.
	Header map[string]string
	Data   []byte
	// StreamSeq is the message's sequence in the stream.
	StreamSeq uint64
	// Pending is how many more messages the consumer had to deliver after
	// this one when it was delivered (0 from FirstOnSubject and
	// LastOnSubject).
	Pending uint64
	// Time is when the stream read from stored the message (its server's
	// clock, in UTC). For a message of a source stream (SourceStream) that is when
	// it arrived in the local DC, not when it was published in its origin
	// DC: to measure replication lag end to end, carry the origin's time in
	// a header.
	Time time.Time
}

// FirstOnSubject returns the first message still in stream on subject
// (wildcards allowed) whose sequence is at least fromSeq, or an error
// wrapping ErrNoMessage. A consumer resuming after sequence s that finds
// FirstOnSubject(s+1) later than expected (compare its own log index header)
// has lost messages to retention and must re-bootstrap.
func (c *Conn) FirstOnSubject(ctx context.Context, stream, subject string, fromSeq uint64) (Delivered, error) {
	if err := checkStream(stream); err != nil {
		return Delivered{}, err
	}
	if err := checkSubject(subject, true); err != nil {
		return Delivered{}, err
	}
	if c.isClosing() {
		return Delivered{}, ErrClosed
	}
	fromSeq = max(fromSeq, 1)
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return Delivered{}, fmt.Errorf("bus: stream %s: %w", stream, mapErr(err))
	}
	raw, err := s.GetMsg(ctx, fromSeq, jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Delivered{}, fmt.Errorf("%w: %s on %s from %d", ErrNoMessage, stream, subject, fromSeq)
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("bus: get %s on %s from %d: %w", stream, subject, fromSeq, mapErr(err))
	}
	return Delivered{
		Subject:   raw.Subject,
		Header:    headerMap(raw.Header),
		Data:      raw.Data,
		StreamSeq: raw.Sequence,
		Time:      raw.Time.UTC(),
	}, nil
}

// LastOnSubject returns the last message in stream on subject (wildcards
// allowed), or an error wrapping ErrNoMessage when there is none, e.g. the
// last change of a keyspace copied from another DC
// (ChangeSubjectsOfKeyspace) and its Time.
func (c *Conn) LastOnSubject(ctx context.Context, stream, subject string) (Delivered, error) {
	if err := checkStream(stream); err != nil {
		return Delivered{}, err
	}
	if err := checkSubject(subject, true); err != nil {
		return Delivered{}, err
	}
	if c.isClosing() {
		return Delivered{}, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return Delivered{}, fmt.Errorf("bus: stream %s: %w", stream, mapErr(err))
	}
	raw, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Delivered{}, fmt.Errorf("%w: %s on %s", ErrNoMessage, stream, subject)
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("bus: get last of %s on %s: %w", stream, subject, mapErr(err))
	}
	return Delivered{
		Subject:   raw.Subject,
		Header:    headerMap(raw.Header),
		Data:      raw.Data,
		StreamSeq: raw.Sequence,
		Time:      raw.Time.UTC(),
	}, nil
}
