package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// GetRemoteTopology returns the current topology document of another DC and
// its revision, read from that DC's topology bucket through its JetStream
// domain (remoteDC) across the leafnode link. It wraps ErrNoTopology when
// the bucket or the document does not exist there; a remote DC that cannot
// be reached (link or DC down) gives another error, after at most the
// context's deadline (5 s without one).
//
// Unlike GetTopology it caches nothing: it is meant for rare reads, such as
// a DC copying a keyspace from another one after a gap in its change log.
func (c *Conn) GetRemoteTopology(ctx context.Context, remoteDC string) (doc []byte, rev uint64, err error) {
	bucket, err := TopologyBucket(remoteDC)
	if err != nil {
		return nil, 0, err
	}
	if c.isClosing() {
		return nil, 0, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	js, err := jetstream.NewWithDomain(c.nc, remoteDC, jetstream.WithDefaultTimeout(apiTimeout))
	if err != nil {
		return nil, 0, fmt.Errorf("bus: jetstream domain %s: %w", remoteDC, err)
	}
	kv, err := js.KeyValue(ctx, bucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, 0, fmt.Errorf("%w: bucket %s does not exist in domain %s", ErrNoTopology, bucket, remoteDC)
	case err != nil:
		return nil, 0, fmt.Errorf("bus: bucket %s in domain %s: %w", bucket, remoteDC, mapErr(err))
	}
	e, err := kv.Get(ctx, topologyKey)
	switch {
	case err == nil:
		return e.Value(), e.Revision(), nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, 0, fmt.Errorf("%w: dc %s", ErrNoTopology, remoteDC)
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, 0, fmt.Errorf("%w: dc %s: %w", ErrNoTopology, remoteDC, err)
	}
	return nil, 0, fmt.Errorf("bus: get topology of %s in domain %s: %w", remoteDC, remoteDC, mapErr(err))
}
