package client

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Limits the stores enforce, checked locally before anything is sent.
const (
	// MaxKeySize is the largest key, 64 KiB. Keys may not be empty.
	MaxKeySize = 64 << 10
	// MaxValueSize is the largest value: 1 MiB less the largest key and
	// 32 KiB of envelope (928 KiB), as the store computes it.
	MaxValueSize = 1<<20 - MaxKeySize - 32<<10
)

// WriteOption tunes Put, Delete and BatchPut.
type WriteOption func(*writeOptions)

type writeOptions struct {
	eventTime int64
	ttl       time.Duration
	hasTime   bool
	hasTTL    bool
	ack       AckLevel
}

// AckLevel is how far a write must have gone before it is acknowledged.
type AckLevel string

// Acknowledgement levels (see WithAck).
const (
	// AckLocal: in the accepting store's write-ahead log (the default). A
	// write acknowledged so is lost if that store's disk is lost before
	// its change reached the DC's change log.
	AckLocal AckLevel = wire.AckLocal
	// AckPublished: also in the DC's change log (JetStream acknowledged
	// it), from where every replica applies it: it survives losing the
	// accepting store's disk, and its machine when the change-log streams
	// are replicated.
	AckPublished AckLevel = wire.AckPublished
)

// WithAck asks for a write to be acknowledged only once it reached level.
// The result says the level reached (WriteResult.Ack); a level not reached
// in time (the store's ack timeout, 2 s by default) is retried with the
// same event time and then fails with ErrNotAcknowledged: the write is
// never acknowledged at a lower level than asked.
func WithAck(level AckLevel) WriteOption {
	return func(o *writeOptions) { o.ack = level }
}

// WithEventTime sets the write's event time, in nanoseconds since the Unix
// epoch; it must be positive and (checked by the store) at most a few
// seconds ahead of the store's clock. Without it the client's hybrid clock
// stamps the write before it is sent, so every attempt of the write carries
// the same event time. Writes to one key are ordered by event time
// (last-writer-wins), in every DC alike.
func WithEventTime(ns int64) WriteOption {
	return func(o *writeOptions) { o.eventTime, o.hasTime = ns, true }
}

// WithTTL makes the value expire d after its event time (sent as PX in
// milliseconds: d must be at least 1 ms and is truncated to whole
// milliseconds). Not allowed on Delete.
func WithTTL(d time.Duration) WriteOption {
	return func(o *writeOptions) { o.ttl, o.hasTTL = d, true }
}

// buildWriteOptions applies opts and validates them for a put (or a delete,
// which takes no TTL).
func buildWriteOptions(opts []WriteOption, isDelete bool) (writeOptions, error) {
	var o writeOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.hasTime && o.eventTime <= 0 {
		return o, fmt.Errorf("%w: event time %d is not positive", ErrBadTime, o.eventTime)
	}
	if o.ack != "" && !slices.Contains(wire.AckLevels, string(o.ack)) {
		return o, fmt.Errorf("%w: acknowledgement level %q (want one of %s)", ErrInvalid, o.ack, strings.Join(wire.AckLevels, ", "))
	}
	if o.hasTTL {
		switch {
		case isDelete:
			return o, fmt.Errorf("%w: WithTTL does not apply to Delete", ErrInvalid)
		case o.ttl <= 0:
			return o, fmt.Errorf("%w: TTL %v is not positive", ErrBadTime, o.ttl)
		case o.ttl < time.Millisecond:
			return o, fmt.Errorf("%w: TTL %v is under the 1ms resolution of a TTL", ErrBadTime, o.ttl)
		}
		o.ttl = o.ttl.Truncate(time.Millisecond)
		if o.hasTime && o.eventTime > math.MaxInt64-int64(o.ttl) {
			return o, fmt.Errorf("%w: event time %d + TTL %v overflows", ErrBadTime, o.eventTime, o.ttl)
		}
	}
	return o, nil
}

// args returns the command options: [EVENTTIME ns] [PX ms].
func (o writeOptions) args() []any {
	var a []any
	if o.hasTime {
		a = append(a, "EVENTTIME", strconv.FormatInt(o.eventTime, 10))
	}
	if o.hasTTL {
		a = append(a, "PX", strconv.FormatInt(o.ttl.Milliseconds(), 10))
	}
	if o.ack != "" {
		a = append(a, "ACK", string(o.ack))
	}
	return a
}

// checkKeyspace validates a keyspace name locally.
func checkKeyspace(name string) error {
	if !topology.ValidName(name) {
		return fmt.Errorf("%w: keyspace %q: use 1-64 of A-Z a-z 0-9 - _", ErrBadName, name)
	}
	return nil
}

// checkKey validates a key's size.
func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes, limit %d", ErrTooLarge, len(key), MaxKeySize)
	}
	return nil
}

// checkValue validates a value's size.
func checkValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: value of %d bytes, limit %d", ErrTooLarge, len(value), MaxValueSize)
	}
	return nil
}

// ReadOption tunes Get.
type ReadOption func(*readOptions)

type readOptions struct {
	after   string
	timeout time.Duration
}

// WithAfter makes a read wait until the replica has applied the write that
// token names (WriteResult.Token), for at most timeout (0: 1 s; at most
// 30 s). The write may have been taken by another replica or in another DC.
// If no replica has applied it in time the read fails with ErrBehind.
func WithAfter(token string, timeout time.Duration) ReadOption {
	return func(o *readOptions) {
		if timeout <= 0 {
			timeout = time.Second
		}
		o.after, o.timeout = token, min(timeout, 30*time.Second)
	}
}
