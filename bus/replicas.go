package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vasto-kv/vasto/internal/retry"
)

// Creating or updating a stream or bucket: each attempt is bounded by
// ensureAttempt and retried (with back-off up to ensureBackoffMax) while it
// goes unanswered, for up to ensureTimeout when the caller's context has no
// deadline. A NATS cluster that is still electing its JetStream meta leader
// (just started, or a server lost) leaves API requests unanswered.
const (
	ensureAttempt    = 4 * time.Second
	ensureTimeout    = 30 * time.Second
	ensureBackoffMax = time.Second
)

// ensureCtx bounds ctx by ensureTimeout when it has no deadline.
func ensureCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, ensureTimeout)
}

// retryEnsure runs attempt, each time bounded by ensureAttempt, until it
// succeeds, fails with an error that a retry cannot help, or ctx ends; it
// returns the last error.
func retryEnsure(ctx context.Context, attempt func(ctx context.Context) error) error {
	backoff := retry.Backoff{Min: reconnectWait, Max: ensureBackoffMax}
	for {
		actx, cancel := context.WithTimeout(ctx, ensureAttempt)
		err := attempt(actx)
		cancel()
		unanswered := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
			errors.Is(err, nats.ErrNoResponders)
		if err == nil || !unanswered || ctx.Err() != nil || !backoff.Wait(ctx, nil) {
			return err
		}
	}
}

// MaxReplicas is the most copies JetStream keeps of a stream.
const MaxReplicas = 5

// JetStream API error codes Vasto turns into clear errors.
const (
	// jsErrStorageResourcesExceeded: a stream's MaxBytes cannot be
	// reserved against the server's MaxStore.
	jsErrStorageResourcesExceeded = 10047
	// jsErrReplicasNotSupported: replicas > 1 on a server that is not
	// clustered.
	jsErrReplicasNotSupported = 10074
	// jsErrInsufficientResources and jsErrNoPeers: the cluster has too few
	// servers (online, with room) to place every replica.
	jsErrInsufficientResources = 10023
	jsErrNoPeers               = 10005
)

func checkReplicas(n int) error {
	if n < 0 || n > MaxReplicas {
		return fmt.Errorf("%w: replicas %d not in 1..%d", ErrInvalidConfig, n, MaxReplicas)
	}
	return nil
}

// replicasOr returns n, or the connection's default when n is 0.
func (c *Conn) replicasOr(n int) int {
	if n == 0 {
		return c.replicas
	}
	return n
}

// ensureErr turns the error of creating or updating the stream or bucket
// what into a clear one (nil stays nil).
func ensureErr(what string, maxBytes int64, replicas int, err error) error {
	if err == nil {
		return nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jsErrStorageResourcesExceeded:
			return fmt.Errorf("bus: ensure %s: MaxBytes %d does not fit in what is left of the server's JetStream MaxStore (every stream's MaxBytes is reserved up front on each of its %d replica(s)): %w",
				what, maxBytes, replicas, err)
		case jsErrReplicasNotSupported:
			return fmt.Errorf("%w: ensure %s: %d replicas need a NATS cluster (vasto nats --cluster-listen/--routes) of at least %d servers, but the server is not clustered: %w",
				ErrReplicas, what, replicas, replicas, err)
		case jsErrInsufficientResources, jsErrNoPeers:
			return fmt.Errorf("%w: ensure %s: %d replicas need %d NATS servers with JetStream online and room in their MaxStore: %w",
				ErrReplicas, what, replicas, replicas, err)
		}
	}
	return fmt.Errorf("bus: ensure %s: %w", what, mapErr(err))
}
