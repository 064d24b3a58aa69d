package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vasto-kv/vasto/internal/retry"
)

// Connection tuning.
const (
	// reconnectWait is the pause between reconnect attempts (plus jitter).
	reconnectWait = 100 * time.Millisecond
	// connectBackoffMax caps the pause between failed initial connects.
	connectBackoffMax = time.Second
	// dialTimeout bounds one connection attempt.
	dialTimeout = 2 * time.Second
	// pingInterval and maxPingsOut detect a dead server within ~10 s.
	pingInterval = 5 * time.Second
	maxPingsOut  = 2
	// drainTimeout bounds Close's drain.
	drainTimeout = 10 * time.Second
	// asyncMaxPending bounds async publishes in flight per connection.
	asyncMaxPending = 4096
	// asyncAckTimeout fails an async publish whose ack does not come; the
	// caller retries and Nats-Msg-Id de-duplication absorbs a late success.
	asyncAckTimeout = 10 * time.Second
	// apiTimeout bounds JetStream API calls whose context has no deadline.
	apiTimeout = 5 * time.Second
)

// ConnConfig configures a client connection.
type ConnConfig struct {
	// URL is the server URL, e.g. nats://127.0.0.1:4222; several may be
	// given separated by commas. Ignored when Options connect in-process
	// (embedded.Server.ConnectOptions).
	URL string
	// Name names the connection in the server's monitoring.
	Name string
	// Logger receives connection events; default: discard.
	Logger hclog.Logger
	// CredsFile names the file of this process's NATS credentials: an nkey
	// seed file ('vasto auth init' writes one per role) or a JWT .creds
	// file. It must be readable by its owner only. Empty: no credentials.
	CredsFile string
	// TLS, if set, makes the connection TLS (the server's certificate is
	// verified; a client certificate is presented if the config has one).
	TLS *tls.Config
	// OnError, if set, is called with the errors the server reports
	// asynchronously (after they are logged), such as a permission
	// violation (wrapping ErrPermission): a publish the server refuses
	// does not fail the publish call itself.
	OnError func(error)
	// Replicas is how many copies (servers of the DC's NATS cluster) the
	// streams and buckets created through this connection keep when their
	// own configuration leaves it 0: change-log streams, cross-DC copy
	// streams and the topology bucket. Default 1; more needs a NATS cluster
	// of at least that many servers (ErrReplicas otherwise). At most 5.
	Replicas int
	// Options are extra nats.go options, applied after bus's own settings
	// (so they can override e.g. ReconnectWait), except the connection
	// event handlers, which bus needs and which always win.
	Options []nats.Option
}

// Conn is a client connection to NATS with JetStream. It is safe for
// concurrent use.
type Conn struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	log      hclog.Logger
	replicas int // default replicas of created streams and buckets

	closedCh   chan struct{} // closed when the nats connection is closed
	closedOnce sync.Once

	mu      sync.Mutex
	denied  map[string]map[*deniedWaiter]struct{} // requests in flight by subject
	closing bool
	reconn  chan struct{} // closed and replaced on every reconnect
	kvs     map[string]jetstream.KeyValue
}

// Connect connects to NATS, retrying a failed initial connection (with
// back-off up to 1 s) until ctx ends. Once connected, the connection
// reconnects forever, every ~100 ms, and logs disconnects and reconnects.
func Connect(ctx context.Context, cfg ConnConfig) (*Conn, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("bus")
	if err := checkReplicas(cfg.Replicas); err != nil {
		return nil, err
	}
	if cfg.Name != "" {
		log = log.With("conn", cfg.Name)
	}
	c := &Conn{
		log:      log,
		replicas: max(cfg.Replicas, 1),
		closedCh: make(chan struct{}),
		reconn:   make(chan struct{}),
		kvs:      map[string]jetstream.KeyValue{},
		denied:   map[string]map[*deniedWaiter]struct{}{},
	}
	base := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectWait/2, reconnectWait/2),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.DrainTimeout(drainTimeout),
	}
	if cfg.Name != "" {
		base = append(base, nats.Name(cfg.Name))
	}
	if cfg.CredsFile != "" {
		opt, err := credsOption(cfg.CredsFile)
		if err != nil {
			return nil, err
		}
		base = append(base, opt)
	}
	if cfg.TLS != nil {
		base = append(base, nats.Secure(cfg.TLS))
	}
	handlers := []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected", "error", err)
			} else {
				log.Info("disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected", "url", nc.ConnectedUrlRedacted())
			c.mu.Lock()
			close(c.reconn)
			c.reconn = make(chan struct{})
			c.mu.Unlock()
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			log.Debug("connection closed")
			c.closedOnce.Do(func() { close(c.closedCh) })
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("async error", "subject", sub.Subject, "error", err)
			} else {
				log.Error("async error", "error", err)
			}
			c.notifyDenied(err)
			if cfg.OnError != nil {
				cfg.OnError(mapErr(err))
			}
		}),
	}

	backoff := retry.Backoff{Min: reconnectWait, Max: connectBackoffMax}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bus: connect %s: %w", cfg.URL, err)
		}
		timeout := dialTimeout
		if d, ok := ctx.Deadline(); ok {
			timeout = max(min(timeout, time.Until(d)), time.Millisecond)
		}
		opts := append(append(append([]nats.Option{nats.Timeout(timeout)}, base...), cfg.Options...), handlers...)
		nc, err := nats.Connect(cfg.URL, opts...)
		if err == nil {
			js, err := jetstream.New(nc,
				jetstream.WithPublishAsyncMaxPending(asyncMaxPending),
				jetstream.WithPublishAsyncTimeout(asyncAckTimeout),
				jetstream.WithDefaultTimeout(apiTimeout),
			)
			if err != nil {
				nc.Close()
				return nil, fmt.Errorf("bus: jetstream: %w", err)
			}
			c.nc, c.js = nc, js
			log.Info("connected", "url", nc.ConnectedUrlRedacted(), "attempts", attempt)
			return c, nil
		}
		if perr := permanentConnectError(err); perr != nil {
			log.Error("connect refused", "url", cfg.URL, "error", perr)
			return nil, fmt.Errorf("bus: connect %s: %w", cfg.URL, perr)
		}
		log.Warn("connect failed, retrying", "url", cfg.URL, "attempt", attempt, "error", err)
		if !backoff.Wait(ctx, nil) {
			return nil, fmt.Errorf("bus: connect %s: %w (last error: %w)", cfg.URL, ctx.Err(), err)
		}
	}
}

// permanentConnectError returns err, mapped, if retrying cannot help: the
// server refused the credentials, or TLS cannot be agreed on (plaintext to
// a TLS-only server, an unknown authority, a missing client certificate).
// Otherwise nil.
func permanentConnectError(err error) error {
	var verr *tls.CertificateVerificationError
	var alert tls.AlertError
	var rec tls.RecordHeaderError
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	case errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted),
		errors.As(err, &verr), errors.As(err, &alert), errors.As(err, &rec):
		return fmt.Errorf("%w: TLS: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Close drains the connection (pending messages of subscriptions are
// handled and pending publishes flushed) and closes it, waiting up to ~10 s.
// It is idempotent and safe for concurrent use. Stop consumers, watches and
// subscriptions first: they stop on their own when the connection closes,
// but their Stop/Shutdown must still be called to wait for them.
func (c *Conn) Close() {
	c.mu.Lock()
	first := !c.closing
	c.closing = true
	c.mu.Unlock()
	if first {
		if err := c.nc.Drain(); err != nil {
			c.nc.Close()
		}
	}
	t := time.NewTimer(drainTimeout + 2*time.Second)
	defer t.Stop()
	select {
	case <-c.closedCh:
	case <-t.C:
		c.log.Warn("drain did not finish, closing")
		c.nc.Close()
		<-c.closedCh
	}
}

// IsConnected reports whether the connection is currently connected (not
// reconnecting or closed).
func (c *Conn) IsConnected() bool { return c.nc.IsConnected() }

// isClosing reports whether Close was called or the connection is closed.
func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.nc.IsClosed()
}

// reconnected returns a channel closed at the next reconnect.
func (c *Conn) reconnected() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconn
}

// apiCtx gives ctx the default API timeout if it has no deadline.
func apiCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, apiTimeout)
}

// mapErr maps nats.go errors to bus sentinels, keeping the original in the
// chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, jetstream.ErrConnectionClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%w: %w", ErrNoStream, err)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("%w: %w", ErrNoConsumer, err)
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: %w", ErrNoResponders, err)
	case errors.Is(err, nats.ErrPermissionViolation), errors.Is(err, nats.ErrAuthorization),
		errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return err
}

// headerMap converts nats headers to a map, keeping the first value of each
// key.
func headerMap(h nats.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	m := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

// deniedWaiter is a request in flight that a publish permission violation
// on its subject ends at once (the server reports it asynchronously and
// sends no reply).
type deniedWaiter struct{ cancel context.CancelCauseFunc }

// watchDenied makes a publish permission violation on subject cancel ctx
// with an error wrapping ErrPermission; call the returned func when done.
func (c *Conn) watchDenied(ctx context.Context, subject string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &deniedWaiter{cancel: cancel}
	c.mu.Lock()
	if c.denied[subject] == nil {
		c.denied[subject] = map[*deniedWaiter]struct{}{}
	}
	c.denied[subject][w] = struct{}{}
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		delete(c.denied[subject], w)
		if len(c.denied[subject]) == 0 {
			delete(c.denied, subject)
		}
		c.mu.Unlock()
		cancel(nil)
	}
}

// notifyDenied ends the requests waiting on the subject of a publish
// permission violation ("Permissions Violation for Publish to \"subj\"").
func (c *Conn) notifyDenied(err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	const marker = "Publish to \""
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return
	}
	subj, _, ok := strings.Cut(msg[i+len(marker):], "\"")
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.denied[subj] {
		w.cancel(fmt.Errorf("%w: publish to %s", ErrPermission, subj))
	}
}
