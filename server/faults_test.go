package server

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingFaults is a Faults that records what it is told.
type recordingFaults struct {
	mu      sync.Mutex
	skew    time.Duration
	crashes int
	until   time.Time
	pauses  []time.Duration
	noXDC   bool
}

func (f *recordingFaults) SetSkew(d time.Duration) { f.mu.Lock(); f.skew = d; f.mu.Unlock() }
func (f *recordingFaults) Skew() time.Duration     { f.mu.Lock(); defer f.mu.Unlock(); return f.skew }
func (f *recordingFaults) Crash()                  { f.mu.Lock(); f.crashes++; f.mu.Unlock() }
func (f *recordingFaults) PauseXDC(d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noXDC {
		return errors.New("storenode: invalid fault: this store applies no other DC's changes")
	}
	f.pauses = append(f.pauses, d)
	f.until = time.Time{}
	if d > 0 {
		f.until = time.UnixMilli(1_700_000_000_000).Add(d)
	}
	return nil
}
func (f *recordingFaults) XDCPausedUntil() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.until
}

func TestFaultRefusedWithoutAllowFaults(t *testing.T) {
	srv, _ := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	for _, args := range [][]any{{"VFAULT", "STATUS"}, {"VFAULT", "SKEW", "1"}, {"VFAULT", "CRASH"}, {"VFAULT", "PAUSE-XDC", "10"}, {"VFAULT", "nonsense"}} {
		err := rc.Do(ctx, args...).Err()
		require.EqualError(t, err, "NOFAULTS fault injection is disabled: start the store with --allow-faults", "%v", args)
	}
	require.Equal(t, "PONG", rc.Ping(ctx).Val(), "the connection stays usable")
}

func TestFaultCommands(t *testing.T) {
	f := &recordingFaults{}
	srv, _ := testServer(t, func(c *Config) { c.Faults = f })
	rc := testClient(t, srv)
	ctx := context.Background()
	status := func() string {
		s, err := rc.Do(ctx, "VFAULT", "STATUS").Text()
		require.NoError(t, err)
		return s
	}
	require.Equal(t, "skew_ns=0\nxdc_paused_until_unix_ms=0\n", status())

	require.Equal(t, "OK", rc.Do(ctx, "VFAULT", "SKEW", "-1500000000").Val())
	require.Equal(t, -1500*time.Millisecond, f.Skew())
	require.Equal(t, "OK", rc.Do(ctx, "vfault", "skew", "3000").Val(), "case-insensitive")
	require.Equal(t, "skew_ns=3000\nxdc_paused_until_unix_ms=0\n", status())
	require.Equal(t, "OK", rc.Do(ctx, "VFAULT", "SKEW", "0").Val())
	require.Zero(t, f.Skew())

	require.Equal(t, "OK", rc.Do(ctx, "VFAULT", "PAUSE-XDC", "2000").Val())
	require.Equal(t, "skew_ns=0\nxdc_paused_until_unix_ms=1700000002000\n", status())
	require.Equal(t, "OK", rc.Do(ctx, "VFAULT", "PAUSE-XDC", "0").Val())
	require.Equal(t, []time.Duration{2 * time.Second, 0}, f.pauses)
	require.Contains(t, status(), "xdc_paused_until_unix_ms=0\n")

	require.Equal(t, "OK", rc.Do(ctx, "VFAULT", "CRASH").Val())
	require.Equal(t, 1, f.crashes)

	// Bad input: a clear error, nothing changed.
	for _, args := range [][]any{
		{"VFAULT", "SKEW", "1s"}, {"VFAULT", "SKEW"}, {"VFAULT", "SKEW", "1", "2"},
		{"VFAULT", "PAUSE-XDC", "-1"}, {"VFAULT", "PAUSE-XDC", "x"}, {"VFAULT", "PAUSE-XDC", "86400001"},
		{"VFAULT", "CRASH", "now"}, {"VFAULT", "REBOOT"},
	} {
		err := rc.Do(ctx, args...).Err()
		require.Error(t, err, "%v", args)
		require.Contains(t, err.Error(), "ERR syntax error", "%v", args)
	}
	require.Zero(t, f.Skew())
	require.Equal(t, 1, f.crashes)
	require.Len(t, f.pauses, 2)

	f.noXDC = true
	err := rc.Do(ctx, "VFAULT", "PAUSE-XDC", "100").Err()
	require.EqualError(t, err, "ERR invalid fault: this store applies no other DC's changes")
}

func TestDigestCommand(t *testing.T) {
	srv, e := testServer(t, nil)
	rc := testClient(t, srv)
	ctx := context.Background()
	digest := func(args ...any) []any {
		res, err := rc.Do(ctx, append([]any{"VDIGEST"}, args...)...).Slice()
		require.NoError(t, err)
		require.Len(t, res, 2)
		return res
	}
	empty := digest()
	require.Equal(t, int64(0), empty[1])
	require.NoError(t, rc.Do(ctx, "VSET", "a", "1", "EVENTTIME", baseTime-100).Err())
	require.NoError(t, rc.Do(ctx, "VSET", "b", "2", "EVENTTIME", baseTime-99, "PX", "1").Err())
	now := digest()
	require.Equal(t, int64(2), now[1], "b lives until baseTime-99+1ms")
	sh, err := e.Shard(DefaultKeyspace, 0)
	require.NoError(t, err)
	want, n, err := sh.Digest(time.Unix(0, baseTime))
	require.NoError(t, err)
	require.Equal(t, []any{want, int64(n)}, now)

	later := digest("AT", baseTime+int64(time.Hour))
	require.Equal(t, int64(1), later[1], "b expired by then")
	require.NotEqual(t, now[0], later[0])
	require.Equal(t, later, digest("at", baseTime+int64(2*time.Hour)))

	for _, args := range [][]any{{"AT"}, {"AT", "x"}, {"AT", "0"}, {"AT", "-5"}, {"SINCE", "1"}, {"AT", "1", "2"}} {
		err := rc.Do(ctx, append([]any{"VDIGEST"}, args...)...).Err()
		require.Error(t, err, "%v", args)
		require.Contains(t, err.Error(), "ERR", "%v", args)
	}
	conn := rc.Conn()
	defer conn.Close()
	require.Error(t, conn.Do(ctx, "VUSE", "nope").Err())
	err = conn.Do(ctx, "VDIGEST").Err()
	require.Error(t, err)
	require.Contains(t, err.Error(), "NOSHARD")
}
