package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/metrics"
)

// retentionFlags size the DC's change-log streams and cross-DC copies.
type retentionFlags struct {
	maxAge   *time.Duration
	maxBytes *string
	replicas *int
}

// addRetentionFlags adds --stream-max-age, --stream-max-bytes and
// --replicas to fs.
func addRetentionFlags(fs *flag.FlagSet) retentionFlags {
	return retentionFlags{
		maxAge: fs.Duration("stream-max-age", durationEnv("VASTO_STREAM_MAX_AGE", bus.DefaultStreamMaxAge),
			"how long the DC's change log (and each copy of another DC's) keeps changes: a cut link longer than this (or than --stream-max-bytes lasts) needs a re-bootstrap (env VASTO_STREAM_MAX_AGE)"),
		maxBytes: fs.String("stream-max-bytes", envOr("VASTO_STREAM_MAX_BYTES", "1GiB"),
			"size limit of the DC's change log and of each copy of another DC's, e.g. 512MiB, 20GiB; -1: none. Reserved against every NATS server's JetStream store (env VASTO_STREAM_MAX_BYTES)"),
		replicas: replicasFlag(fs),
	}
}

// replicasFlag adds --replicas to fs.
func replicasFlag(fs *flag.FlagSet) *int {
	def, err := strconv.Atoi(envOr("VASTO_NATS_REPLICAS", "1"))
	if err != nil {
		def = 0 // refused by bus with a clear error
	}
	return fs.Int("replicas", def, "copies the DC's NATS cluster keeps of the change logs, cross-DC copies and the topology (1, 3 or 5; more than 1 needs a NATS cluster of at least that many servers) (env VASTO_NATS_REPLICAS)")
}

// streamConfig returns the stream sizing the flags give (DC left empty).
func (r retentionFlags) streamConfig() (bus.StreamConfig, error) {
	maxBytes, err := parseSize(*r.maxBytes)
	if err != nil {
		return bus.StreamConfig{}, fmt.Errorf("%w: --stream-max-bytes: %w", errUsage, err)
	}
	switch {
	case *r.maxAge <= 0:
		return bus.StreamConfig{}, fmt.Errorf("%w: --stream-max-age must be positive", errUsage)
	case maxBytes == 0 || maxBytes < -1:
		return bus.StreamConfig{}, fmt.Errorf("%w: --stream-max-bytes must be positive, or -1 for no limit", errUsage)
	case *r.replicas < 1 || *r.replicas > bus.MaxReplicas:
		return bus.StreamConfig{}, fmt.Errorf("%w: --replicas must be 1..%d", errUsage, bus.MaxReplicas)
	}
	if dup := bus.DefaultStreamDuplicates; *r.maxAge < dup {
		return bus.StreamConfig{MaxAge: *r.maxAge, MaxBytes: maxBytes, Duplicates: *r.maxAge, Replicas: *r.replicas}, nil
	}
	return bus.StreamConfig{MaxAge: *r.maxAge, MaxBytes: maxBytes, Replicas: *r.replicas}, nil
}

// durationEnv returns the duration in the environment variable key, or def
// when it is unset or not a duration.
func durationEnv(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(envOr(key, "")); err == nil {
		return d
	}
	return def
}

// sizeUnits are the suffixes parseSize accepts, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// parseSize parses a byte size: an integer with an optional unit (B, KB,
// MB, GB, TB, KiB, MiB, GiB, TiB), or -1.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	if n == -1 && mult == 1 {
		return -1, nil
	}
	if n < 0 || (n > 0 && mult > math.MaxInt64/n) {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return n * mult, nil
}

// changeLogReader returns a function reading dc's change-log stream for
// metrics.NewChangeLog, estimating its write rate between readings.
func changeLogReader(conn *bus.Conn, dc string) func(context.Context) (metrics.ChangeLogReading, error) {
	stream, _ := bus.ChangeStream(dc)
	est := &bus.RetentionEstimator{}
	return func(ctx context.Context) (metrics.ChangeLogReading, error) {
		st, err := conn.StreamState(ctx, stream)
		if err != nil {
			return metrics.ChangeLogReading{}, err
		}
		rate, horizon := est.Observe(st, time.Now())
		return metrics.ChangeLogReading{Exists: st.Exists, Replicas: st.Replicas, Current: st.Current,
			Bytes: st.Bytes, WriteRate: rate, Retention: horizon}, nil
	}
}
