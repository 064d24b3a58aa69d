package client

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

func TestWriteOptions(t *testing.T) {
	o, err := buildWriteOptions(nil, false)
	require.NoError(t, err)
	require.Empty(t, o.args())

	o, err = buildWriteOptions([]WriteOption{WithEventTime(42), WithTTL(2500 * time.Millisecond), nil}, false)
	require.NoError(t, err)
	require.Equal(t, []any{"EVENTTIME", "42", "PX", "2500"}, o.args())

	// Whole milliseconds are kept, the rest truncated.
	o, err = buildWriteOptions([]WriteOption{WithTTL(1999 * time.Microsecond)}, false)
	require.NoError(t, err)
	require.Equal(t, []any{"PX", "1"}, o.args())

	// The last of a repeated option wins.
	o, err = buildWriteOptions([]WriteOption{WithEventTime(1), WithEventTime(2)}, false)
	require.NoError(t, err)
	require.Equal(t, []any{"EVENTTIME", "2"}, o.args())

	// Delete takes an event time but no TTL.
	o, err = buildWriteOptions([]WriteOption{WithEventTime(7)}, true)
	require.NoError(t, err)
	require.Equal(t, []any{"EVENTTIME", "7"}, o.args())
	_, err = buildWriteOptions([]WriteOption{WithTTL(time.Second)}, true)
	require.ErrorIs(t, err, ErrInvalid)

	for _, bad := range []WriteOption{
		WithEventTime(0), WithEventTime(-1),
		WithTTL(0), WithTTL(-time.Second), WithTTL(time.Microsecond), WithTTL(999 * time.Microsecond),
	} {
		_, err = buildWriteOptions([]WriteOption{bad}, false)
		require.ErrorIs(t, err, ErrBadTime)
	}
	_, err = buildWriteOptions([]WriteOption{WithTTL(500 * time.Microsecond)}, false)
	require.ErrorContains(t, err, "1ms resolution")

	_, err = buildWriteOptions([]WriteOption{WithEventTime(math.MaxInt64 - 10), WithTTL(time.Second)}, false)
	require.ErrorIs(t, err, ErrBadTime)
	require.ErrorContains(t, err, "overflows")
}

func TestKeyValueAndNameChecks(t *testing.T) {
	require.ErrorIs(t, checkKey(nil), ErrInvalid)
	require.ErrorIs(t, checkKey([]byte{}), ErrInvalid)
	require.NoError(t, checkKey([]byte("k")))
	require.NoError(t, checkKey(make([]byte, MaxKeySize)))
	require.ErrorIs(t, checkKey(make([]byte, MaxKeySize+1)), ErrTooLarge)

	// The store's limit: 1 MiB less the largest key and 32 KiB of envelope
	// (928 KiB; docs/protocol.md says 960 KiB, the store enforces this).
	require.Equal(t, 1<<20-64<<10-32<<10, MaxValueSize)
	require.NoError(t, checkValue(nil))
	require.NoError(t, checkValue(make([]byte, MaxValueSize)))
	require.ErrorIs(t, checkValue(make([]byte, MaxValueSize+1)), ErrTooLarge)

	for _, ok := range []string{"a", "users_v2", "A-Z", strings.Repeat("x", 64)} {
		require.NoError(t, checkKeyspace(ok), ok)
	}
	for _, bad := range []string{"", "a.b", "a/b", "a b", "*", ">", "$SYS", strings.Repeat("x", 65), "ü"} {
		require.ErrorIs(t, checkKeyspace(bad), ErrBadName, bad)
	}
}

func TestConfig(t *testing.T) {
	cfg := DefaultConfig("nats://127.0.0.1:4222", "dc1")
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultPoolSize, cfg.PoolSize)
	require.Equal(t, 16, cfg.PoolSize)
	require.Equal(t, 8, cfg.MaxRetries)
	require.Equal(t, 9, cfg.attempts())

	// Zero fields get defaults.
	z := Config{NATSURL: "nats://x", DC: "dc1"}.withDefaults()
	require.Equal(t, DefaultConfig("nats://x", "dc1").PoolSize, z.PoolSize)
	require.Equal(t, DefaultPipelines, z.Pipelines)
	require.Equal(t, 2, z.Pipelines)
	require.Equal(t, DefaultDialTimeout, z.DialTimeout)
	require.Equal(t, DefaultReadTimeout, z.ReadTimeout)
	require.Equal(t, DefaultWriteTimeout, z.WriteTimeout)
	require.Equal(t, DefaultMaxRetries, z.MaxRetries)
	require.Equal(t, DefaultHedgeAfter, z.HedgeAfter)
	require.Equal(t, DefaultAttemptTimeout, z.AttemptTimeout)
	require.Less(t, DefaultAttemptTimeout, topology.DeadAfter, "an attempt ends before the master marks a silent store down")
	require.NotNil(t, z.Logger)

	// Negative MaxRetries disables retries, negative HedgeAfter hedging and
	// negative AttemptTimeout the attempt timeout.
	z.MaxRetries, z.HedgeAfter, z.AttemptTimeout = -1, -1, -1
	require.Equal(t, 1, z.attempts())
	require.NoError(t, z.Validate())
	z = z.withDefaults()
	require.Equal(t, time.Duration(-1), z.HedgeAfter)
	require.Equal(t, time.Duration(-1), z.AttemptTimeout)

	for name, mut := range map[string]func(*Config){
		"no url":        func(c *Config) { c.NATSURL = "" },
		"pool":          func(c *Config) { c.PoolSize = -1 },
		"pipelines":     func(c *Config) { c.Pipelines = -1 },
		"pipelines max": func(c *Config) { c.Pipelines = maxPipelines + 1 },
		"dial timeout":  func(c *Config) { c.DialTimeout = -1 },
		"read timeout":  func(c *Config) { c.ReadTimeout = -1 },
		"write timeout": func(c *Config) { c.WriteTimeout = -1 },
	} {
		c := cfg
		mut(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalid, name)
	}
	for _, dc := range []string{"", "dc.1", "dc 1", "dc>"} {
		c := cfg
		c.DC = dc
		require.ErrorIs(t, c.Validate(), ErrBadName, dc)
	}
}

// TestWritesAreStampedByTheConfiguredClock checks that a write without an
// event time carries the time of Config.Clock (a skewed client host), not
// the system clock's.
func TestWritesAreStampedByTheConfiguredClock(t *testing.T) {
	s := newFakeStore(t, "s1", "ks/0")
	const at = int64(1_000_000_000_000)
	c := testClientWith(t, fakeTopology("ks", [][]string{{"s1"}}, s), func(cfg *Config) {
		cfg.Logger = hclog.NewNullLogger()
		cfg.Clock = lww.NewManualClock(at)
	})
	_, err := c.Put(context.Background(), "ks", []byte("k"), []byte("v"))
	require.NoError(t, err)
	_, err = c.Put(context.Background(), "ks", []byte("k"), []byte("w"))
	require.NoError(t, err)
	require.Equal(t, []int64{at, at + 1}, s.eventTimes("k"), "the manual clock's time, then the hybrid clock's next tick")
}

// A hedged read's abandoned request may outlive the call, so reads work on
// a copy of the keys: the caller's buffers are neither read nor changed
// after the call returns.
func TestDetachKeys(t *testing.T) {
	caller := [][]byte{[]byte("alpha"), {}, []byte("b")}
	got := detachKeys(caller)
	require.Equal(t, caller, got)
	caller[0][0] = 'X'
	require.Equal(t, "alpha", string(got[0]), "the copy does not share the caller's buffer")
	got[1] = append(got[1], 'z')
	require.Equal(t, "b", string(got[2]), "appending to one key cannot overwrite the next")
}
