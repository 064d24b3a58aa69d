package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// topologyHistory is how many revisions of the topology document the bucket
// keeps: the last few masters' decisions, for post-mortems. Watches and
// compare-and-set only ever use the latest.
const topologyHistory = 5

// watchBackoffMax caps the pause between attempts to (re)create a watch.
const watchBackoffMax = time.Second

// watchDrainTimeout bounds how long stopping a nats watcher waits for its
// delivery goroutine.
const watchDrainTimeout = 5 * time.Second

// EnsureTopologyBucket creates dc's topology bucket (file storage, the last
// 5 revisions kept), or updates it to that configuration.
func (c *Conn) EnsureTopologyBucket(ctx context.Context, dc string) error {
	bucket, err := TopologyBucket(dc)
	if err != nil {
		return err
	}
	if c.isClosing() {
		return ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	kv, err := c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "Vasto topology of DC " + dc,
		History:     topologyHistory,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
	})
	if err != nil {
		return fmt.Errorf("bus: ensure bucket %s: %w", bucket, mapErr(err))
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
// there is one) and then with every later one, in revision order, from a
// single goroutine, until ctx ends or Stop. It survives reconnects and
// server restarts (it re-watches and skips revisions already delivered) and
// a bucket that does not exist yet (it retries until it does). Deletions are
// not delivered. If the bucket is deleted and created again, the first
// document of the new bucket is delivered even though its revision is lower.
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
	w := &Watch{cancel: cancel, done: make(chan struct{})}
	go c.runWatch(wctx, dc, bucket, fn, w.done)
	return w, nil
}

func (c *Conn) runWatch(ctx context.Context, dc, bucket string, fn func([]byte, uint64), done chan struct{}) {
	defer close(done)
	log := c.log.With("bucket", bucket)
	var last uint64 // last revision delivered
	backoff := reconnectWait
	for {
		if ctx.Err() != nil || c.isClosing() {
			return
		}
		reconn := c.reconnected()
		ok, err := c.watchOnce(ctx, dc, reconn, &last, fn)
		if ok {
			backoff = reconnectWait
		}
		if ctx.Err() != nil || c.isClosing() {
			return
		}
		if err != nil {
			if errors.Is(err, ErrNoTopology) {
				log.Debug("topology bucket does not exist yet, waiting", "error", err)
			} else {
				log.Warn("topology watch failed, retrying", "error", err, "backoff", backoff)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			case <-reconn:
			}
			t.Stop()
			backoff = min(2*backoff, watchBackoffMax)
		}
	}
}

// watchOnce runs one nats watcher until it fails, the connection
// reconnects or ctx ends. ok reports whether the watcher was created.
func (c *Conn) watchOnce(ctx context.Context, dc string, reconn <-chan struct{}, last *uint64, fn func([]byte, uint64)) (ok bool, err error) {
	actx, acancel := apiCtx(ctx)
	kv, err := c.topologyKV(actx, dc)
	acancel()
	if err != nil {
		return false, err
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	kw, err := kv.Watch(sctx, topologyKey)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
			c.forgetKV(dc)
			return false, fmt.Errorf("%w: %w", ErrNoTopology, err)
		}
		return false, mapErr(err)
	}
	defer stopWatcher(kw)
	first := true
	for {
		select {
		case e, open := <-kw.Updates():
			if !open {
				return true, fmt.Errorf("bus: topology watcher closed")
			}
			if e == nil { // all initial values delivered
				continue
			}
			rev := e.Revision()
			fresh := rev > *last || (first && rev < *last) // rev < last: bucket re-created
			first = false
			if !fresh {
				continue
			}
			*last = rev
			if e.Operation() == jetstream.KeyValuePut {
				fn(e.Value(), rev)
			}
		case <-reconn:
			return true, nil
		case <-ctx.Done():
			return true, nil
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
