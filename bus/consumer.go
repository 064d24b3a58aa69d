package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vasto-kv/vasto/internal/retry"
)

// Consumer defaults and tuning.
const (
	DefaultConsumerBatch   = 256
	DefaultConsumerAckWait = 30 * time.Second
	// DefaultNakDelay is how long a batch whose handler failed waits before
	// it is delivered again.
	DefaultNakDelay = 250 * time.Millisecond
	// fetchMaxWait bounds one pull. A pull hands over messages as they
	// arrive, so it bounds only how often an idle consumer asks the server
	// again: with thousands of shard replicas a DC has thousands of idle
	// consumers. Shutdown and a reconnect cancel the pull in progress.
	fetchMaxWait = 5 * time.Second
	// fetchRetryMin is the first pause after a failed pull.
	fetchRetryMin = 200 * time.Millisecond
	// consumerBackoffMax caps the pause after failed pulls.
	consumerBackoffMax = 2 * time.Second
	// minMaxAckPending is the least MaxAckPending a consumer gets.
	minMaxAckPending = 1024
)

// pendingCheckInterval is how often a running consumer that received
// messages checks, between two pulls, that the server holds nothing
// delivered to it that it never received (see checkPending). A failed pull
// or a reconnect makes it check at once. An idle consumer does not check:
// messages are lost on the way only when a connection dies (a reconnect)
// or a pull is given up (a shutdown, or a reconnect), and the ack wait
// redelivers anything else.
const pendingCheckInterval = 5 * time.Second

// ConsumerConfig configures a durable pull consumer.
type ConsumerConfig struct {
	// Stream is the stream to consume, e.g. ChangeStream(dc).
	Stream string
	// Durable names the consumer (ValidName); it resumes from its
	// acknowledgement floor after a restart: what an earlier run received
	// and did not acknowledge is delivered again at once (see Start).
	Durable string
	// FilterSubject restricts the consumer to matching subjects (wildcards
	// allowed), e.g. ChangeSubject(dc, ks, shard, peer); empty = all.
	FilterSubject string
	// Batch is the most messages handed to the handler at once; default 256.
	Batch int
	// AckWait is how long a delivered, unacknowledged message waits before
	// it is delivered again; default 30 s.
	AckWait time.Duration
	// NakDelay is how long messages whose handler failed wait before they
	// are delivered again; default 250 ms.
	NakDelay time.Duration
	// StartSeq, when not 0, makes a consumer created anew start at this
	// stream sequence instead of the beginning of the stream. A durable that
	// exists keeps its position (pass the same StartSeq again to resume it).
	StartSeq uint64
	// Logger receives the consumer's logs; default: the connection's.
	Logger hclog.Logger
	// OnRecreate, if set, is called in the consumer's goroutine after the
	// consumer created itself again because its durable or its stream was
	// gone (deleted, or NATS lost its data), before it pulls anything from
	// the new one: the new consumer starts at the beginning of the stream,
	// which may no longer hold what the old one had not delivered. Until it
	// returns nil it is called again, with back-off, and nothing is pulled.
	OnRecreate func(ctx context.Context) error
}

// Handler applies a batch of messages, in stream order. Returning nil
// acknowledges every message of the batch; an error negatively acknowledges
// them all (they are delivered again after NakDelay, possibly after later
// messages) and is logged. ctx ends when the consumer shuts down.
type Handler func(ctx context.Context, msgs []Delivered) error

// Consumer runs a durable pull consumer: one goroutine fetches batches and
// calls the handler.
type Consumer struct {
	conn *Conn
	cfg  ConsumerConfig
	h    Handler
	log  hclog.Logger

	mu       sync.Mutex
	started  bool
	stopping bool
	cancel   context.CancelFunc
	done     chan struct{}
}

// NewConsumer validates cfg and returns a consumer that is not started.
func (c *Conn) NewConsumer(cfg ConsumerConfig, h Handler) (*Consumer, error) {
	if cfg.Batch == 0 {
		cfg.Batch = DefaultConsumerBatch
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = DefaultConsumerAckWait
	}
	if cfg.NakDelay == 0 {
		cfg.NakDelay = DefaultNakDelay
	}
	if err := checkStream(cfg.Stream); err != nil {
		return nil, err
	}
	if err := checkNames(cfg.Durable); err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	if cfg.FilterSubject != "" {
		if err := checkSubject(cfg.FilterSubject, true); err != nil {
			return nil, err
		}
	}
	switch {
	case h == nil:
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidConfig)
	case cfg.Batch < 0 || cfg.Batch > 10000:
		return nil, fmt.Errorf("%w: batch %d not in 1..10000", ErrInvalidConfig, cfg.Batch)
	case cfg.AckWait < 0 || cfg.NakDelay < 0:
		return nil, fmt.Errorf("%w: negative ack wait or nak delay", ErrInvalidConfig)
	}
	log := cfg.Logger
	if log == nil {
		log = c.log
	}
	return &Consumer{
		conn: c,
		cfg:  cfg,
		h:    h,
		log:  log.With("stream", cfg.Stream, "durable", cfg.Durable),
		done: make(chan struct{}),
	}, nil
}

func (k *Consumer) jsConfig() jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       k.cfg.Durable,
		Description:   "vasto consumer",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       k.cfg.AckWait,
		MaxAckPending: max(4*k.cfg.Batch, minMaxAckPending),
		FilterSubject: k.cfg.FilterSubject,
	}
	if k.cfg.StartSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, k.cfg.StartSeq
	}
	return cfg
}

// Start creates the durable consumer, or updates it to the configuration
// and rewinds it to its acknowledgement floor if an earlier run left
// messages unacknowledged, and starts fetching in a goroutine; it does not
// block. The goroutine lives
// until Shutdown (ctx only bounds the creation).
func (k *Consumer) Start(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.started || k.stopping {
		return fmt.Errorf("%w: consumer %s already started or shut down", ErrClosed, k.cfg.Durable)
	}
	if k.conn.isClosing() {
		return ErrClosed
	}
	actx, cancel := apiCtx(ctx)
	defer cancel()
	cons, err := k.conn.js.CreateOrUpdateConsumer(actx, k.cfg.Stream, k.jsConfig())
	if err != nil {
		return fmt.Errorf("bus: create consumer %s on %s: %w", k.cfg.Durable, k.cfg.Stream, mapErr(err))
	}
	k.rewind(actx, cons)
	k.started = true
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	k.cancel = rcancel
	go k.run(rctx, cons)
	k.log.Debug("consumer started", "filter_subject", k.cfg.FilterSubject)
	return nil
}

// rewind makes a durable that exists deliver again at once what an earlier
// run received and never acknowledged: a process killed in the middle of a
// batch, or a run whose shutdown timed out. JetStream keeps such messages
// pending until their ack wait (30 s by default) expires, and meanwhile
// delivers the later ones and reports nothing pending: the consumer would
// look drained while it misses the messages. So Start resets the durable to
// its acknowledgement floor; what lies above it and was acknowledged comes
// again too, which handlers take as duplicates. A durable is run by one
// Consumer at a time, so nothing pending belongs to a live run. If the
// reset fails the messages still come after their ack wait.
func (k *Consumer) rewind(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || info.NumAckPending == 0 {
		return
	}
	if _, err := k.conn.js.ResetConsumer(ctx, k.cfg.Stream, k.cfg.Durable); err != nil {
		k.log.Warn("messages an earlier run did not acknowledge come again only after the ack wait",
			"ack_pending", info.NumAckPending, "ack_wait", k.cfg.AckWait.String(), "error", mapErr(err))
		return
	}
	k.log.Info("delivering again what an earlier run did not acknowledge",
		"ack_floor", info.AckFloor.Stream, "ack_pending", info.NumAckPending)
}

// Shutdown stops fetching and waits for the goroutine (and a handler call
// in progress) to finish, or for ctx to end. Messages fetched but not yet
// handled are negatively acknowledged so they come again at once after a
// restart. It is idempotent and safe before Start.
func (k *Consumer) Shutdown(ctx context.Context) error {
	k.mu.Lock()
	if !k.stopping {
		k.stopping = true
		if k.started {
			k.cancel()
		} else {
			close(k.done)
		}
	}
	k.mu.Unlock()
	select {
	case <-k.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus: consumer %s shutdown: %w", k.cfg.Durable, ctx.Err())
	}
}

func (k *Consumer) run(ctx context.Context, cons jetstream.Consumer) {
	defer close(k.done)
	backoff := retry.Backoff{Min: fetchRetryMin, Max: consumerBackoffMax}
	reconn := k.conn.reconnected()
	checked, suspect, received := time.Now(), false, false
	for ctx.Err() == nil {
		if k.conn.isClosing() {
			k.log.Debug("connection closed, consumer stops")
			return
		}
		select {
		case <-reconn:
			reconn, suspect = k.conn.reconnected(), true
		default:
		}
		if suspect || (received && time.Since(checked) >= pendingCheckInterval) {
			// Between two pulls: everything this run received has been
			// acknowledged, or negatively acknowledged.
			if k.checkPending(ctx, cons) {
				checked, suspect, received = time.Now(), false, false
			}
		}
		n, err := k.fetchOnce(ctx, cons, reconn)
		received = received || n > 0
		if err == nil {
			backoff.Reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		suspect = true
		if errors.Is(err, errPullGivenUp) {
			continue
		}
		if consumerLost(err) {
			k.log.Warn("consumer gone, recreating", "error", err)
			actx, cancel := apiCtx(ctx)
			c2, cerr := k.conn.js.CreateOrUpdateConsumer(actx, k.cfg.Stream, k.jsConfig())
			cancel()
			if cerr == nil {
				k.log.Info("consumer recreated")
				cons = c2
				k.afterRecreate(ctx, &backoff)
				continue
			}
			err = cerr
		}
		if !k.conn.isClosing() {
			k.log.Warn("fetch failed, retrying", "error", err, "backoff", backoff.Current())
		}
		backoff.Wait(ctx, k.conn.reconnected())
	}
}

// afterRecreate calls OnRecreate until it succeeds or ctx ends.
func (k *Consumer) afterRecreate(ctx context.Context, backoff *retry.Backoff) {
	if k.cfg.OnRecreate == nil {
		return
	}
	for ctx.Err() == nil {
		err := k.cfg.OnRecreate(ctx)
		if err == nil || ctx.Err() != nil {
			backoff.Reset()
			return
		}
		k.log.Warn("check after recreating the consumer failed; retrying before pulling", "error", err,
			"backoff", backoff.Current())
		backoff.Wait(ctx, nil)
	}
}

// consumerLost reports whether a pull failed because the durable or its
// stream is gone (deleted, or the NATS cluster lost its data): the consumer
// is created again (once the stream is back) and starts over at the
// beginning of the stream.
func consumerLost(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse)
}

// checkPending makes the server deliver again at once what it delivered to
// this run and the run never received: messages sent into a connection
// that died, or to a pull the client had already given up. JetStream keeps
// them pending until their ack wait (30 s by default) and meanwhile
// delivers later messages, so the consumer would lag by the ack wait while
// looking current. Called between two pulls, when everything the run
// received has been handled and acknowledged, so anything still pending
// was lost on the way (or negatively acknowledged with a delay, which
// then comes back sooner): the consumer is reset to its ack floor, and
// what lies above it and was acknowledged comes again as duplicates. It
// reports whether the check was done.
func (k *Consumer) checkPending(ctx context.Context, cons jetstream.Consumer) bool {
	actx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	info, err := cons.Info(actx)
	if err != nil {
		k.log.Debug("cannot check what the consumer holds pending", "error", mapErr(err))
		return false
	}
	if info.NumAckPending == 0 {
		return true
	}
	if _, err := k.conn.js.ResetConsumer(actx, k.cfg.Stream, k.cfg.Durable); err != nil {
		k.log.Warn("cannot rewind the consumer; messages it never received come again after the ack wait",
			"ack_pending", info.NumAckPending, "ack_wait", k.cfg.AckWait.String(), "error", mapErr(err))
		return false
	}
	k.log.Info("delivering again what the consumer never received",
		"ack_floor", info.AckFloor.Stream, "ack_pending", info.NumAckPending)
	return true
}

// errPullGivenUp is fetchOnce's error when the client ended the pull
// before the server did: after a reconnect, or when the server's end of
// the pull was late.
var errPullGivenUp = errors.New("bus: pull ended by the client before the server")

// fetchOnce issues one pull for up to Batch messages, for at most
// fetchMaxWait, and hands what arrives to the handler in sub-batches, as
// soon as messages are there. It returns how many messages it received.
// The pull ends early when ctx ends, reconn is closed (a reconnect) or the
// connection closes.
func (k *Consumer) fetchOnce(ctx context.Context, cons jetstream.Consumer, reconn <-chan struct{}) (int, error) {
	pctx, cancel := context.WithTimeout(ctx, fetchMaxWait)
	defer cancel()
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		select {
		case <-reconn:
			cancel()
		case <-k.conn.closedCh:
			cancel()
		case <-watchDone:
		}
	}()
	batch, err := cons.Fetch(k.cfg.Batch, jetstream.FetchContext(pctx))
	if err != nil {
		return 0, err
	}
	received := 0
	ch := batch.Messages()
	buf := make([]jetstream.Msg, 0, k.cfg.Batch)
	for {
		// Wait for one message, then take whatever else has arrived.
		m, ok := <-ch
		if !ok {
			break
		}
		buf = append(buf[:0], m)
	more:
		for len(buf) < k.cfg.Batch {
			select {
			case m, ok := <-ch:
				if !ok {
					break more
				}
				buf = append(buf, m)
			default:
				break more
			}
		}
		received += len(buf)
		if ctx.Err() != nil {
			k.nakAll(buf, 0)
			for m := range ch { // the pull ends with ctx
				_ = m.Nak()
			}
			return received, nil
		}
		k.handle(ctx, buf)
	}
	err = batch.Error()
	switch {
	case err == nil || errors.Is(err, jetstream.ErrNoMessages):
		return received, nil
	case ctx.Err() != nil:
		return received, nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// A reconnect, or the server's end of the pull did not come in
		// time: what it delivered after may never arrive.
		return received, errPullGivenUp
	}
	return received, err
}

func (k *Consumer) handle(ctx context.Context, msgs []jetstream.Msg) {
	ds := make([]Delivered, len(msgs))
	for i, m := range msgs {
		d := Delivered{Subject: m.Subject(), Header: headerMap(m.Headers()), Data: m.Data()}
		if md, err := m.Metadata(); err == nil {
			d.StreamSeq, d.Pending, d.Time = md.Sequence.Stream, md.NumPending, md.Timestamp.UTC()
		}
		ds[i] = d
	}
	if err := k.h(ctx, ds); err != nil {
		k.log.Warn("handler failed, messages will be redelivered", "error", err,
			"messages", len(msgs), "first_seq", ds[0].StreamSeq, "nak_delay", k.cfg.NakDelay)
		k.nakAll(msgs, k.cfg.NakDelay)
		return
	}
	// Acks on one connection are processed in order, so confirming the
	// last one confirms them all: after this, a restart does not deliver
	// the batch again.
	for _, m := range msgs[:len(msgs)-1] {
		if err := m.Ack(); err != nil {
			k.log.Warn("ack failed", "error", err)
		}
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer cancel()
	if err := msgs[len(msgs)-1].DoubleAck(actx); err != nil {
		k.log.Warn("ack not confirmed; the batch may be delivered again", "error", err)
	}
}

func (k *Consumer) nakAll(msgs []jetstream.Msg, delay time.Duration) {
	for _, m := range msgs {
		var err error
		if delay > 0 {
			err = m.NakWithDelay(delay)
		} else {
			err = m.Nak()
		}
		if err != nil {
			k.log.Debug("nak failed", "error", err)
		}
	}
}

// DeleteConsumer deletes the durable consumer from stream; deleting one
// that does not exist is not an error.
func (c *Conn) DeleteConsumer(ctx context.Context, stream, durable string) error {
	if err := checkStream(stream); err != nil {
		return err
	}
	if err := checkNames(durable); err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	if c.isClosing() {
		return ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	err := c.js.DeleteConsumer(ctx, stream, durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: delete consumer %s on %s: %w", durable, stream, mapErr(err))
	}
	return nil
}
