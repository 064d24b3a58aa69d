package bus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamState is a stream's contents, limits and replication state in its
// DC's NATS cluster.
type StreamState struct {
	// Stream is the stream's name.
	Stream string
	// Exists is false when the stream does not exist; the fields below
	// are then zero.
	Exists bool
	// Replicas is how many copies the stream is configured with.
	Replicas int
	// Leader names the server leading the stream ("" during an election).
	Leader string
	// Current counts the replicas that are online and caught up with the
	// leader, the leader included.
	Current int
	// Lagging names the replicas that are offline or behind the leader.
	Lagging []string
	// MaxAge and MaxBytes are the stream's retention limits (MaxBytes -1:
	// none).
	MaxAge   time.Duration
	MaxBytes int64
	// Msgs and Bytes are what the stream holds; FirstTime and LastTime the
	// times of its oldest and newest messages; LastSeq its last sequence.
	Msgs      uint64
	Bytes     uint64
	FirstTime time.Time
	LastTime  time.Time
	LastSeq   uint64
}

// StreamState reads the state of stream. A stream that does not exist is
// not an error (Exists false).
func (c *Conn) StreamState(ctx context.Context, stream string) (StreamState, error) {
	st := StreamState{Stream: stream}
	if err := checkStream(stream); err != nil {
		return st, err
	}
	if c.isClosing() {
		return st, ErrClosed
	}
	ctx, cancel := apiCtx(ctx)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("bus: stream %s: %w", stream, mapErr(err))
	}
	info := s.CachedInfo()
	st.Exists = true
	st.Replicas = max(info.Config.Replicas, 1)
	st.MaxAge, st.MaxBytes = info.Config.MaxAge, info.Config.MaxBytes
	st.Msgs, st.Bytes, st.LastSeq = info.State.Msgs, info.State.Bytes, info.State.LastSeq
	st.FirstTime, st.LastTime = info.State.FirstTime, info.State.LastTime
	if ci := info.Cluster; ci != nil {
		st.Leader = ci.Leader
		if ci.Leader != "" {
			st.Current = 1
		}
		for _, p := range ci.Replicas {
			if p.Current && !p.Offline {
				st.Current++
			} else {
				st.Lagging = append(st.Lagging, p.Name)
			}
		}
	} else {
		st.Current = 1
	}
	return st, nil
}

// WindowRate returns the rate, in bytes per second, at which the messages
// the stream holds were written: their size over the time between the
// oldest and the newest. 0 when it holds fewer than two messages.
func (st StreamState) WindowRate() float64 {
	span := st.LastTime.Sub(st.FirstTime).Seconds()
	if st.Msgs < 2 || span <= 0 {
		return 0
	}
	return float64(st.Bytes) / span
}

// RetentionHorizon returns how long a reader of a stream with limits
// maxAge and maxBytes (-1 or 0: none) can stop reading before messages it
// has not read are dropped, when the stream is written at bytesPerSec: the
// smaller of maxAge and maxBytes/bytesPerSec. It returns -1 when neither
// limit applies (no age limit, and no size limit or no writes).
func RetentionHorizon(maxAge time.Duration, maxBytes int64, bytesPerSec float64) time.Duration {
	h := time.Duration(-1)
	if maxAge > 0 {
		h = maxAge
	}
	if maxBytes > 0 && bytesPerSec > 0 {
		secs := float64(maxBytes) / bytesPerSec
		d := time.Duration(math.MaxInt64)
		if secs < float64(math.MaxInt64)/float64(time.Second) {
			d = time.Duration(secs * float64(time.Second))
		}
		if h < 0 || d < h {
			h = d
		}
	}
	return h
}

// RetentionEstimator estimates a stream's current write rate from the
// sequences of successive StreamState readings (the new messages times the
// stream's average message size over the time between readings), falling
// back to the held window's rate (WindowRate) on the first reading. It is
// safe for concurrent use.
type RetentionEstimator struct {
	mu      sync.Mutex
	lastSeq uint64
	lastAt  time.Time
	rate    float64
}

// Observe records st, read at now, and returns the estimated write rate in
// bytes per second and the retention horizon (RetentionHorizon) at that
// rate.
func (e *RetentionEstimator) Observe(st StreamState, now time.Time) (float64, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !st.Exists:
		e.lastAt, e.lastSeq, e.rate = time.Time{}, 0, 0
	case e.lastAt.IsZero() || st.LastSeq < e.lastSeq:
		e.rate = st.WindowRate()
	case now.Sub(e.lastAt) > 0:
		avg := 0.0
		if st.Msgs > 0 {
			avg = float64(st.Bytes) / float64(st.Msgs)
		}
		e.rate = float64(st.LastSeq-e.lastSeq) * avg / now.Sub(e.lastAt).Seconds()
	}
	if st.Exists {
		e.lastSeq, e.lastAt = st.LastSeq, now
	}
	return e.rate, RetentionHorizon(st.MaxAge, st.MaxBytes, e.rate)
}
