package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrorHeader carries a request handler's error in its reply.
const ErrorHeader = "Vasto-Error"

// maxErrorLen bounds the error text sent in a reply.
const maxErrorLen = 4096

// flushTimeout bounds the round trip Subscription.Stop waits for.
const flushTimeout = time.Second

// Publish publishes data on subject with core NATS (at most once, no
// persistence): for heartbeats and notifications. Wildcards are rejected.
func (c *Conn) Publish(subject string, data []byte) error {
	if err := checkSubject(subject, false); err != nil {
		return err
	}
	if c.isClosing() {
		return ErrClosed
	}
	if err := c.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, mapErr(err))
	}
	return nil
}

// Subscription is a running subscription.
type Subscription struct {
	c      *Conn
	sub    *nats.Subscription
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool
	active  sync.WaitGroup
}

// enter registers a callback run; false once the subscription is stopped.
func (s *Subscription) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.active.Add(1)
	return true
}

// Stop unsubscribes, waits until the server has processed that (up to 1 s)
// and until a callback in progress has returned; no callback starts after
// Stop returns. It is idempotent. Do not call it
// from the callback.
func (s *Subscription) Stop() {
	s.mu.Lock()
	first := !s.stopped
	s.stopped = true
	s.mu.Unlock()
	if first {
		s.cancel()
		if s.sub.Unsubscribe() == nil {
			// Once the server has answered a ping it has processed the
			// unsubscribe: no more requests are routed here.
			s.c.flush()
		}
	}
	s.active.Wait()
}

// Subscribe calls fn for every message on subject (wildcards allowed), one
// message at a time, in order, until Stop. When it returns, the server has
// registered the subscription (unless the connection is down: then it is
// registered on reconnect).
func (c *Conn) Subscribe(subject string, fn func(subject string, data []byte)) (*Subscription, error) {
	if err := checkSubject(subject, true); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: nil callback", ErrInvalidConfig)
	}
	if c.isClosing() {
		return nil, ErrClosed
	}
	s := &Subscription{c: c, cancel: func() {}}
	sub, err := c.nc.Subscribe(subject, func(m *nats.Msg) {
		if !s.enter() {
			return
		}
		defer s.active.Done()
		fn(m.Subject, m.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, mapErr(err))
	}
	s.sub = sub
	c.flush()
	return s, nil
}

// Handle serves requests on subject (wildcards allowed): fn's result is the
// reply; an fn error is sent back as an error reply (header Vasto-Error)
// that Request returns as an error wrapping ErrRemote. With a non-empty
// queue (a ValidName), each request goes to one member of the queue group.
// Requests are handled one at a time; the ctx given to fn ends at Stop.
// When Handle returns, the server routes requests to it (unless the
// connection is down: then once it reconnects).
func (c *Conn) Handle(subject, queue string, fn func(ctx context.Context, data []byte) ([]byte, error)) (*Subscription, error) {
	if err := checkSubject(subject, true); err != nil {
		return nil, err
	}
	if queue != "" {
		if err := checkNames(queue); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidConfig)
	}
	if c.isClosing() {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscription{c: c, cancel: cancel}
	log := c.log.With("subject", subject)
	sub, err := c.nc.QueueSubscribe(subject, queue, func(m *nats.Msg) {
		if !s.enter() {
			return
		}
		defer s.active.Done()
		resp, ferr := fn(ctx, m.Data)
		if m.Reply == "" {
			if ferr != nil {
				log.Debug("request without reply subject failed", "error", ferr)
			}
			return
		}
		reply := nats.NewMsg(m.Reply)
		if ferr != nil {
			reply.Header.Set(ErrorHeader, errorText(ferr))
		} else {
			reply.Data = resp
		}
		if err := c.nc.PublishMsg(reply); err != nil {
			log.Warn("reply failed", "error", err)
		}
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: handle %s: %w", subject, mapErr(err))
	}
	s.sub = sub
	c.flush()
	return s, nil
}

// flush waits (up to 1 s) until the server has processed what was sent, so
// that a new subscription is in place. A failure (e.g. while reconnecting)
// is harmless: subscriptions are sent again on reconnect.
func (c *Conn) flush() {
	if err := c.nc.FlushTimeout(flushTimeout); err != nil {
		c.log.Debug("flush failed", "error", err)
	}
}

// errorText renders err for a header value: one line, bounded, never empty.
func errorText(err error) string {
	msg := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, err.Error())
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	if strings.TrimSpace(msg) == "" {
		msg = "error"
	}
	return msg
}

// Request sends data on subject (no wildcards) and returns the reply. An
// error reply gives an error wrapping ErrRemote with the handler's message;
// no handler gives ErrNoResponders. If ctx has no deadline, 5 s applies.
func (c *Conn) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if err := checkSubject(subject, false); err != nil {
		return nil, err
	}
	if c.isClosing() {
		return nil, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	ctx, done := c.watchDenied(ctx, subject)
	defer done()
	resp, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrPermission) {
			return nil, cause
		}
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%w: %s", ErrNoResponders, subject)
		}
		return nil, fmt.Errorf("bus: request %s: %w", subject, mapErr(err))
	}
	if v, ok := resp.Header[ErrorHeader]; ok {
		msg := "error"
		if len(v) > 0 {
			msg = v[0]
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrRemote, subject, msg)
	}
	return resp.Data, nil
}
