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

// topologyHistory is how many revisions of the topology document the bucket
// keeps (64, the most NATS allows). A watcher that lags further behind skips
// to the oldest revision still kept, so more history means fewer skipped
// intermediate documents (and the last masters' decisions stay readable for
// post-mortems), at the cost of up to 64 copies of the document on disk.
// Compare-and-set only ever uses the latest.
const topologyHistory = 64

// watchBackoffMax caps the pause between attempts to (re)create a watch.
const watchBackoffMax = time.Second

// Subject of the advisory JetStream publishes when a stream is deleted
// (followed by the stream name), and the prefix of a bucket's stream name.
const (
	streamDeletedAdvisory = "$JS.EVENT.ADVISORY.STREAM.DELETED."
	kvStreamPrefix        = "KV_"
)

// watchDrainTimeout bounds how long stopping a nats watcher waits for its
// delivery goroutine.
const watchDrainTimeout = 5 * time.Second

// EnsureTopologyBucket creates dc's topology bucket (file storage, the last
// 64 revisions kept, ConnConfig.Replicas copies), or updates it to that
// configuration.
func (c *Conn) EnsureTopologyBucket(ctx context.Context, dc string) error {
	bucket, err := TopologyBucket(dc)
	if err != nil {
		return err
	}
	if c.isClosing() {
		return ErrClosed
	}
	ctx, cancel := ensureCtx(ctx)
	defer cancel()
	var kv jetstream.KeyValue
	err = retryEnsure(ctx, func(ctx context.Context) error {
		kv, err = c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "Vasto topology of DC " + dc,
			History:     topologyHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    c.replicas,
		})
		return err
	})
	if err != nil {
		return ensureErr("bucket "+bucket, 0, c.replicas, err)
	}
	c.mu.Lock()
	c.kvs[bucket] = kv
	c.mu.Unlock()
	return nil
}

// topologyKV returns dc's topology bucket, from the cache or the server.
func (c *Conn) topologyKV(ctx context.Context, dc string) (jetstream.KeyValue, error) {
	bucket, err := TopologyBucket(dc)
	if err != nil {
		return nil, err
	}
	if c.isClosing() {
		return nil, ErrClosed
	}
	c.mu.Lock()
	kv := c.kvs[bucket]
	c.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err = c.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%w: bucket %s does not exist", ErrNoTopology, bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", bucket, mapErr(err))
	}
	c.mu.Lock()
	c.kvs[bucket] = kv
	c.mu.Unlock()
	return kv, nil
}

// forgetKV drops a cached bucket handle after an error that may mean the
// bucket was deleted.
func (c *Conn) forgetKV(dc string) {
	bucket, _ := TopologyBucket(dc)
	c.mu.Lock()
	delete(c.kvs, bucket)
	c.mu.Unlock()
}

// PutTopology stores dc's topology document. With lastRevision 0 it creates
// the document and fails with ErrConflict if one exists; otherwise it
// replaces the document only if its current revision is lastRevision
// (compare-and-set, which fences a stale writer), else ErrConflict. It
// returns the new revision. A missing bucket gives ErrNoTopology.
func (c *Conn) PutTopology(ctx context.Context, dc string, doc []byte, lastRevision uint64) (rev uint64, err error) {
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	kv, err := c.topologyKV(ctx, dc)
	if err != nil {
		return 0, err
	}
	if lastRevision == 0 {
		rev, err = kv.Create(ctx, topologyKey, doc)
	} else {
		rev, err = kv.Update(ctx, topologyKey, doc, lastRevision)
	}
	switch {
	case err == nil:
		return rev, nil
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, fmt.Errorf("%w: topology of %s: revision is not %d: %w", ErrConflict, dc, lastRevision, err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		c.forgetKV(dc)
		return 0, fmt.Errorf("%w: put topology of %s: %w", ErrNoTopology, dc, err)
	}
	return 0, fmt.Errorf("bus: put topology of %s: %w", dc, mapErr(err))
}

// GetTopology returns dc's current topology document and its revision, or
// an error wrapping ErrNoTopology when the bucket or document is absent.
func (c *Conn) GetTopology(ctx context.Context, dc string) (doc []byte, rev uint64, err error) {
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	kv, err := c.topologyKV(ctx, dc)
	if err != nil {
		return nil, 0, err
	}
	e, err := kv.Get(ctx, topologyKey)
	if errors.Is(err, nats.ErrNoResponders) {
		// The bucket is read directly from its servers: nobody answering
		// can mean that the cached bucket is gone (NATS lost its data).
		// Look it up again.
		c.forgetKV(dc)
		if kv, err = c.topologyKV(ctx, dc); err != nil {
			return nil, 0, err
		}
		e, err = kv.Get(ctx, topologyKey)
	}
	switch {
	case err == nil:
		return e.Value(), e.Revision(), nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, 0, fmt.Errorf("%w: dc %s", ErrNoTopology, dc)
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		c.forgetKV(dc)
		return nil, 0, fmt.Errorf("%w: dc %s: %w", ErrNoTopology, dc, err)
	}
	return nil, 0, fmt.Errorf("bus: get topology of %s: %w", dc, mapErr(err))
}

// Watch is a running topology watch.
type Watch struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Stop ends the watch and waits until its goroutine (and a callback in
// progress) has returned. It is idempotent. Do not call it from the
// callback.
func (w *Watch) Stop() {
	w.once.Do(w.cancel)
	<-w.done
}

// WatchTopology calls fn with dc's current topology document at once (if
// there is one) and then with later ones, in increasing revision order,
// from a single goroutine, until ctx ends or Stop. fn never sees a revision
// twice and always ends up with the current document, but it may skip
// intermediate ones: the bucket keeps only the last 64 revisions, so a
// watcher that lags further behind (or is re-watching after a reconnect)
// jumps to what is still there. Topology is state, so only the latest
// document matters. If the bucket exists when WatchTopology returns, the
// updates made after that are watched.
//
// It survives reconnects and server restarts (it watches again and skips
// revisions already delivered) and a bucket that does not exist yet (it
// retries until it does). Deleted documents are not delivered. If the
// bucket is deleted and created again, the watch follows the new bucket and
// delivers its first document even though its revision is lower.
func (c *Conn) WatchTopology(ctx context.Context, dc string, fn func(doc []byte, rev uint64)) (*Watch, error) {
	bucket, err := TopologyBucket(dc)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: nil watch callback", ErrInvalidConfig)
	}
	if c.isClosing() {
		return nil, ErrClosed
	}
	wctx, cancel := context.WithCancel(ctx)
	tw := &topoWatch{c: c, dc: dc, fn: fn, log: c.log.With("bucket", bucket)}
	// Watch once synchronously, so that updates made after WatchTopology
	// returns are not collapsed; on failure the goroutine retries.
	reconn := c.reconnected()
	kw, stop, err := tw.open(wctx)
	if err != nil {
		tw.logRetry(err, reconnectWait)
	}
	w := &Watch{cancel: cancel, done: make(chan struct{})}
	go tw.run(wctx, kw, stop, reconn, w.done)
	return w, nil
}

// topoWatch is the state of one WatchTopology goroutine.
type topoWatch struct {
	c    *Conn
	dc   string
	fn   func([]byte, uint64)
	log  hclog.Logger
	last uint64 // last revision seen

	deleted <-chan struct{} // of the current nats watcher, see open
}

func (tw *topoWatch) logRetry(err error, backoff time.Duration) {
	if errors.Is(err, ErrNoTopology) {
		tw.log.Debug("topology bucket does not exist yet, waiting", "error", err)
	} else {
		tw.log.Warn("topology watch failed, retrying", "error", err, "backoff", backoff)
	}
}

// run pumps kw (if not nil), then re-watches until ctx ends or the
// connection closes.
func (tw *topoWatch) run(ctx context.Context, kw jetstream.KeyWatcher, stop func(), reconn <-chan struct{}, done chan struct{}) {
	defer close(done)
	backoff := retry.Backoff{Min: reconnectWait, Max: watchBackoffMax}
	for {
		if kw != nil {
			tw.pump(ctx, kw, reconn)
			stop()
			backoff.Reset()
		} else {
			backoff.Wait(ctx, reconn)
		}
		if ctx.Err() != nil || tw.c.isClosing() {
			return
		}
		reconn = tw.c.reconnected()
		var err error
		kw, stop, err = tw.open(ctx)
		if err != nil {
			if ctx.Err() != nil || tw.c.isClosing() {
				return
			}
			tw.logRetry(err, backoff.Current())
		}
	}
}

// open creates a nats watcher on the topology key; stop ends it. deleted
// receives a value when the bucket's stream is deleted (the nats watcher
// would not notice).
func (tw *topoWatch) open(ctx context.Context) (kw jetstream.KeyWatcher, stop func(), err error) {
	actx, acancel := apiCtx(ctx)
	kv, err := tw.c.topologyKV(actx, tw.dc)
	acancel()
	if err != nil {
		return nil, nil, err
	}
	bucket, _ := TopologyBucket(tw.dc)
	deleted := make(chan struct{}, 1)
	adv, err := tw.c.nc.Subscribe(streamDeletedAdvisory+kvStreamPrefix+bucket, func(*nats.Msg) {
		select {
		case deleted <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, nil, mapErr(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	kw, err = kv.Watch(sctx, topologyKey)
	if err != nil {
		scancel()
		_ = adv.Unsubscribe()
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
			tw.c.forgetKV(tw.dc)
			return nil, nil, fmt.Errorf("%w: %w", ErrNoTopology, err)
		}
		return nil, nil, mapErr(err)
	}
	tw.deleted = deleted
	return kw, func() { _ = adv.Unsubscribe(); stopWatcher(kw); scancel() }, nil
}

// pump delivers kw's updates until it closes, the connection reconnects or
// ctx ends.
func (tw *topoWatch) pump(ctx context.Context, kw jetstream.KeyWatcher, reconn <-chan struct{}) {
	first := true
	for {
		select {
		case e, open := <-kw.Updates():
			if !open {
				tw.log.Warn("topology watcher closed, watching again")
				return
			}
			if e == nil { // all initial values delivered
				continue
			}
			rev := e.Revision()
			fresh := rev > tw.last || (first && rev < tw.last) // rev < last: bucket re-created
			first = false
			if !fresh {
				continue
			}
			tw.last = rev
			if e.Operation() == jetstream.KeyValuePut {
				tw.fn(e.Value(), rev)
			}
		case <-tw.deleted:
			tw.log.Warn("topology bucket deleted, watching again")
			tw.c.forgetKV(tw.dc)
			return
		case <-reconn:
			return
		case <-ctx.Done():
			return
		}
	}
}

// stopWatcher unsubscribes a nats watcher and drains its channel until its
// delivery goroutine has ended (a full channel would block it forever).
func stopWatcher(kw jetstream.KeyWatcher) {
	_ = kw.Stop()
	t := time.NewTimer(watchDrainTimeout)
	defer t.Stop()
	for {
		select {
		case _, open := <-kw.Updates():
			if !open {
				return
			}
		case <-t.C:
			return
		}
	}
}
