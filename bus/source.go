package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SourceConfig configures a DC's copy of another DC's change stream.
type SourceConfig struct {
	// LocalDC is the DC whose JetStream domain holds the copy: the DC of
	// the server the connection is connected to.
	LocalDC string
	// RemoteDC is the DC whose change stream (ChangeStream(RemoteDC)) is
	// copied. It is also that DC's JetStream domain.
	RemoteDC string
	// MaxAge is how long copied messages are kept; default 24 h.
	MaxAge time.Duration
	// MaxBytes bounds the copy's size (oldest messages are dropped);
	// default 1 GiB, -1 for no limit. Like a change stream's, it is
	// reserved against the server's JetStream MaxStore.
	MaxBytes int64
	// Replicas is how many servers of the local DC's NATS cluster hold the
	// copy; 0: the connection's ConnConfig.Replicas (default 1). Up to 5.
	Replicas int
}

func (cfg SourceConfig) withDefaults() SourceConfig {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultStreamMaxAge
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultStreamMaxBytes
	}
	return cfg
}

// domainAPIPrefix is the API prefix of JetStream domain dc as seen from
// another domain.
func domainAPIPrefix(dc string) string { return "$JS." + dc + ".API" }

// EnsureSourceStream creates, or updates to cfg, the stream
// SourceStream(LocalDC, RemoteDC) in the connection's own JetStream domain,
// which must be LocalDC (else ErrInvalidConfig): file storage, limits
// retention discarding the oldest messages, no subjects of its own, and one
// source, RemoteDC's change stream in the JetStream domain RemoteDC,
// filtered to "vasto.chg.<RemoteDC>.>".
//
// The local server copies the remote stream's messages into it over the
// leafnode link, keeping their subjects and headers (plus a
// Nats-Stream-Source header that the server sets), so a consumer of the
// copy filters with ChangeSubjectsOfKeyspace(RemoteDC, keyspace) or
// ChangeSubjectsOfShard(RemoteDC, ...). The copy is store-and-forward:
// while the link or the remote DC is down the local DC keeps working, and
// the server catches up from where it stopped when the link returns (which
// can take tens of seconds, see SourceStatus), as long as the remote stream
// still holds the messages (its MaxAge and MaxBytes).
//
// The stream can be created while the link is down. Nothing is ever
// published back: a copied message does not match any change stream's
// subjects in this DC, so DCs sourcing each other do not loop.
func (c *Conn) EnsureSourceStream(ctx context.Context, cfg SourceConfig) error {
	cfg = cfg.withDefaults()
	name, err := SourceStream(cfg.LocalDC, cfg.RemoteDC)
	if err != nil {
		return err
	}
	switch {
	case cfg.MaxAge < 0:
		return fmt.Errorf("%w: negative max age", ErrInvalidConfig)
	case cfg.MaxBytes < -1:
		return fmt.Errorf("%w: max bytes %d", ErrInvalidConfig, cfg.MaxBytes)
	}
	if err := checkReplicas(cfg.Replicas); err != nil {
		return err
	}
	replicas := c.replicasOr(cfg.Replicas)
	remoteStream, _ := ChangeStream(cfg.RemoteDC)
	if c.isClosing() {
		return ErrClosed
	}
	ctx, cancel := ensureCtx(ctx)
	defer cancel()
	// The stream must live in LocalDC's domain: a connection to another
	// DC's server would create it there.
	var ai *jetstream.AccountInfo
	err = retryEnsure(ctx, func(ctx context.Context) error {
		ai, err = c.js.AccountInfo(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("bus: ensure stream %s: account info: %w", name, mapErr(err))
	}
	if ai.Domain != cfg.LocalDC {
		return fmt.Errorf("%w: ensure stream %s: connected to JetStream domain %q, not the local DC %q",
			ErrInvalidConfig, name, ai.Domain, cfg.LocalDC)
	}
	err = retryEnsure(ctx, func(ctx context.Context) error {
		_, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        name,
			Description: "Vasto changes of DC " + cfg.RemoteDC + " copied into DC " + cfg.LocalDC,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Storage:     jetstream.FileStorage,
			MaxAge:      cfg.MaxAge,
			MaxBytes:    cfg.MaxBytes,
			Replicas:    replicas,
			// One consumer per store and keyspace: see MaxStreamConsumers.
			MaxConsumers: MaxStreamConsumers,
			Sources: []*jetstream.StreamSource{{
				Name:          remoteStream,
				FilterSubject: changeStreamSubjects(cfg.RemoteDC),
				// Domain is turned into External.APIPrefix "$JS.<remote>.API".
				Domain: cfg.RemoteDC,
			}},
		})
		return err
	})
	return ensureErr("stream "+name, cfg.MaxBytes, replicas, err)
}

// SourceInfo is the state of one source stream (SourceStream) and of the
// copying into it.
type SourceInfo struct {
	// RemoteDC is the DC whose changes the stream copies.
	RemoteDC string
	// Stream is the source stream's name, SourceStream(local, RemoteDC).
	Stream string
	// Exists is false when the stream does not exist; the fields below are
	// then zero.
	Exists bool
	// Active is how long ago the local server last heard from the remote
	// stream (a message or a heartbeat, every second while the link is
	// healthy); negative when it has not heard from it since the stream or
	// the server started. More than ~10 s means the copying is stalled
	// (link or remote DC down, or the server backing off before retrying).
	Active time.Duration
	// Lag is how many messages the copy was behind the remote stream when
	// the last message arrived. It is only current while Active is small
	// and Error empty: after a restart it reads 0 until copying resumes.
	Lag uint64
	// Error is the server's error for the copying, e.g. the remote stream
	// does not exist; empty when healthy.
	Error string
	// Msgs, LastSeq and LastTime describe the local copy: messages held,
	// the last sequence and when the last message arrived (local clock).
	Msgs     uint64
	LastSeq  uint64
	LastTime time.Time

	// SourceSeq is the sequence, in the remote change stream, of the last
	// message copied (0 before the first).
	SourceSeq uint64
	// RemoteLastSeq is the remote change stream's last sequence, read from
	// the remote DC across the leafnode link during SourceStatus; 0 when it
	// could not be read (RemoteError says why: link or remote DC down).
	RemoteLastSeq uint64
	RemoteError   string
	// CaughtUp reports that the remote stream could be read and that every
	// message it held then is in the copy (SourceSeq >= RemoteLastSeq): every
	// change the remote DC stored before SourceStatus was called has been
	// copied. Unlike Lag, it is never stale. (A remote stream deleted and
	// created again, so that its sequences restart, can look caught up
	// until the server notices, within seconds.)
	CaughtUp bool
}

// remoteInfoTimeout bounds the read of one remote DC's change stream info
// in SourceStatus.
const remoteInfoTimeout = 2 * time.Second

// SourceStatus reports, for each remote DC, the state of localDC's copy of
// that DC's change stream, in the order of remoteDCs. It must be called on
// a connection to localDC. A missing stream is not an error (Exists false),
// nor is an unreachable remote DC (RemoteError).
//
// It reads each remote DC's change stream across the link (at most 2 s
// each) before the local copy, so CaughtUp means that every change the
// remote DC stored before the call is in the local copy: the basis for a
// replication watermark. The server's own view (Active, Lag, Error) is
// cheaper but weaker: Lag is only updated when a message arrives, so right
// after copying resumes (Active small again) it can read 0 while a backlog
// is still on its way. After an outage the server may take from a fraction
// of a second to minutes to resume copying (see the package doc); Active
// shows it.
func (c *Conn) SourceStatus(ctx context.Context, localDC string, remoteDCs []string) ([]SourceInfo, error) {
	names := make([]string, len(remoteDCs))
	for i, dc := range remoteDCs {
		n, err := SourceStream(localDC, dc)
		if err != nil {
			return nil, err
		}
		names[i] = n
	}
	if c.isClosing() {
		return nil, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	out := make([]SourceInfo, len(remoteDCs))
	for i, dc := range remoteDCs {
		si := SourceInfo{RemoteDC: dc, Stream: names[i]}
		// The remote stream first: whatever it held then and the copy
		// holds afterwards was copied.
		si.RemoteLastSeq, si.RemoteError = c.remoteLastSeq(ctx, dc)
		s, err := c.js.Stream(ctx, names[i])
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			out[i] = si
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bus: source status of %s: %w", names[i], mapErr(err))
		}
		info := s.CachedInfo()
		si.Exists = true
		si.Msgs, si.LastSeq, si.LastTime = info.State.Msgs, info.State.LastSeq, info.State.LastTime.UTC()
		si.Active = -1
		remoteStream, _ := ChangeStream(dc)
		var src *jetstream.StreamSourceInfo
		for _, ss := range info.Sources {
			if ss != nil && ss.Name == remoteStream && ss.External != nil && ss.External.APIPrefix == domainAPIPrefix(dc) {
				src = ss
				break
			}
		}
		if src == nil {
			si.Error = fmt.Sprintf("stream %s does not source %s from domain %s (not made by EnsureSourceStream?)", names[i], remoteStream, dc)
		} else {
			si.Active, si.Lag, si.SourceSeq = src.Active, src.Lag, src.Seq
			if src.Error != nil {
				si.Error = src.Error.Error()
			}
			si.CaughtUp = si.RemoteError == "" && si.SourceSeq >= si.RemoteLastSeq
		}
		out[i] = si
	}
	return out, nil
}

// remoteLastSeq reads the last sequence of dc's change stream from dc's
// JetStream domain, or says why it cannot.
func (c *Conn) remoteLastSeq(ctx context.Context, dc string) (uint64, string) {
	stream, _ := ChangeStream(dc)
	js, err := jetstream.NewWithDomain(c.nc, dc)
	if err != nil {
		return 0, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, remoteInfoTimeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Sprintf("read %s in domain %s: %v", stream, dc, mapErr(err))
	}
	return s.CachedInfo().State.LastSeq, ""
}

// ConsumerPending reports how far the durable consumer on stream is
// behind: pending is how many messages matching its filter it has not
// acknowledged yet (not yet delivered, NumPending, plus delivered but not
// acknowledged, NumAckPending), and ackFloorTime is when the message at its
// acknowledgement floor (the last one before the first unacknowledged one)
// was stored in stream. ackFloorTime is zero when nothing has been
// acknowledged yet or that message is no longer in the stream.
//
// When pending is not 0, the consumer is at least LastTime-ackFloorTime
// behind in time (LastTime of the stream, e.g. SourceInfo.LastTime). A
// missing consumer or stream gives an error wrapping ErrNoConsumer (and
// ErrNoStream for a missing stream).
func (c *Conn) ConsumerPending(ctx context.Context, stream, durable string) (pending uint64, ackFloorTime time.Time, err error) {
	if err := checkStream(stream); err != nil {
		return 0, time.Time{}, err
	}
	if err := checkNames(durable); err != nil {
		return 0, time.Time{}, fmt.Errorf("durable: %w", err)
	}
	if c.isClosing() {
		return 0, time.Time{}, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	cons, err := c.js.Consumer(ctx, stream, durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return 0, time.Time{}, fmt.Errorf("%w: %s on %s", ErrNoConsumer, durable, stream)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return 0, time.Time{}, fmt.Errorf("%w: %s on %s: %w", ErrNoConsumer, durable, stream, ErrNoStream)
	case err != nil:
		return 0, time.Time{}, fmt.Errorf("bus: consumer %s on %s: %w", durable, stream, mapErr(err))
	}
	info := cons.CachedInfo()
	pending = info.NumPending + uint64(max(info.NumAckPending, 0))
	if floor := info.AckFloor.Stream; floor > 0 {
		s, err := c.js.Stream(ctx, stream)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("bus: stream %s: %w", stream, mapErr(err))
		}
		raw, err := s.GetMsg(ctx, floor)
		switch {
		case err == nil:
			ackFloorTime = raw.Time.UTC()
		case errors.Is(err, jetstream.ErrMsgNotFound):
			// Aged out or deleted: no time.
		default:
			return 0, time.Time{}, fmt.Errorf("bus: get %s seq %d: %w", stream, floor, mapErr(err))
		}
	}
	return pending, ackFloorTime, nil
}

// RestartSource makes the local copy of a remote DC's change stream start
// copying again at once. nats-server retries a source whose remote was
// unreachable only after a back-off of up to minutes, even once the link is
// back; removing the source and adding it again (two stream updates) makes it
// resume from the last message it copied, without duplicates. The server
// rescans the copy to find that message, so call it only for a stalled copy.
func (c *Conn) RestartSource(ctx context.Context, cfg SourceConfig) error {
	name, err := SourceStream(cfg.LocalDC, cfg.RemoteDC)
	if err != nil {
		return err
	}
	if c.isClosing() {
		return ErrClosed
	}
	uctx, cancel := apiCtx(ctx)
	defer cancel()
	s, err := c.js.Stream(uctx, name)
	if err != nil {
		return fmt.Errorf("bus: restart source %s: %w", name, mapErr(err))
	}
	conf := s.CachedInfo().Config
	conf.Sources = nil
	conf.Subjects = []string{sourceParkingSubject(cfg.LocalDC, cfg.RemoteDC)}
	if _, err := c.js.UpdateStream(uctx, conf); err != nil {
		return fmt.Errorf("bus: restart source %s: detach: %w", name, mapErr(err))
	}
	return c.EnsureSourceStream(ctx, cfg)
}

// sourceParkingSubject is the subject a copy stream holds for the moment its
// source is detached (a stream needs subjects or sources); nothing publishes
// on it.
func sourceParkingSubject(local, remote string) string {
	return "vasto.src." + local + "." + remote
}

// StreamLastSeq returns the sequence of the last message in stream (0 if it
// is empty).
func (c *Conn) StreamLastSeq(ctx context.Context, stream string) (uint64, error) {
	if err := checkStream(stream); err != nil {
		return 0, err
	}
	if c.isClosing() {
		return 0, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", stream, mapErr(err))
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", stream, mapErr(err))
	}
	return info.State.LastSeq, nil
}

// ConsumerPassed reports whether durable has handled (acknowledged) every
// message of its filter up to stream sequence seq: its acknowledgement floor
// reached seq, or it has nothing pending, nothing unacknowledged and no
// message of its filter after its floor up to seq. A missing consumer gives
// an error wrapping ErrNoConsumer.
func (c *Conn) ConsumerPassed(ctx context.Context, stream, durable string, seq uint64) (bool, error) {
	if err := checkStream(stream); err != nil {
		return false, err
	}
	if err := checkNames(durable); err != nil {
		return false, fmt.Errorf("durable: %w", err)
	}
	if c.isClosing() {
		return false, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	cons, err := c.js.Consumer(ctx, stream, durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return false, fmt.Errorf("%w: %s on %s", ErrNoConsumer, durable, stream)
	case err != nil:
		return false, fmt.Errorf("bus: consumer %s on %s: %w", durable, stream, mapErr(err))
	}
	info := cons.CachedInfo()
	if info.AckFloor.Stream >= seq {
		return true, nil
	}
	if info.NumPending > 0 || info.NumAckPending > 0 {
		return false, nil
	}
	// Nothing pending, but the server counts a consumer's pending messages
	// after it has acknowledged their publication: a message stored just
	// now may not be counted yet. Passed only if no message of the filter
	// lies between the acknowledgement floor and seq.
	filter := info.Config.FilterSubject
	if filter == "" {
		filter = ">"
	}
	next, err := c.FirstOnSubject(ctx, stream, filter, info.AckFloor.Stream+1)
	switch {
	case errors.Is(err, ErrNoMessage):
		return true, nil
	case err != nil:
		return false, err
	}
	return next.StreamSeq > seq, nil
}
