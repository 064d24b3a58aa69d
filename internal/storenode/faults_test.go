package storenode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/lww"
)

// crashChildDir, set in the environment, makes the test binary run a store
// alone with faults allowed in that directory instead of the tests (see
// TestMain and runCrashChild).
const crashChildDir = "VASTO_STORENODE_CRASH_CHILD_DIR"

// runCrashChild runs a store alone with --allow-faults in dir, prints its
// address and serves until it is crashed or killed.
func runCrashChild(dir string) {
	cfg := DefaultConfig(dir, "127.0.0.1:0")
	cfg.Engine.DC, cfg.Engine.Node = "dc1", "s1"
	cfg.Engine.BlockCacheBytes, cfg.Engine.WriteBufferBytes = 8<<20, 4<<20
	cfg.Keyspace = "default"
	cfg.AllowFaults = true
	n, err := New(cfg)
	if err == nil {
		err = n.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	fmt.Printf("addr=%s\n", n.Addr())
	select {}
}

func startFaultNode(t *testing.T, cb func(*Config)) *Node {
	t.Helper()
	cfg := testConfig(t)
	cfg.Keyspace = "default"
	if cb != nil {
		cb(&cfg)
	}
	n, err := New(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, n.Start(ctx))
	t.Cleanup(func() { require.NoError(t, n.Shutdown(context.Background())) })
	return n
}

func TestFaultsRefusedWithoutAllowFaults(t *testing.T) {
	n := startFaultNode(t, nil)
	require.Equal(t, "-NOFAULTS fault injection is disabled: start the store with --allow-faults\r\n", do(t, n.Addr(), "VFAULT SKEW 1000"))
	require.Zero(t, n.Skew(), "a refused fault changes nothing")
}

// TestSkewMovesTheStoresClock: a skew moves the event times the store
// assigns and the guard rails' idea of now.
func TestSkewMovesTheStoresClock(t *testing.T) {
	const start = int64(1_700_000_000_000_000_000)
	clock := lww.NewManualClock(start)
	n := startFaultNode(t, func(c *Config) { c.Engine.Clock, c.AllowFaults = clock, true })
	addr := n.Addr()
	sh, err := n.Engine().Shard("default", 0)
	require.NoError(t, err)
	ahead := start + int64(time.Hour)
	require.True(t, strings.HasPrefix(do(t, addr, fmt.Sprintf("VSET early v EVENTTIME %d", ahead)), "-BADTIME"),
		"an hour ahead is refused before the skew")

	require.Equal(t, "+OK\r\n", do(t, addr, "VFAULT SKEW "+strconv.FormatInt(int64(time.Hour), 10)))
	require.Equal(t, time.Hour, n.Skew())
	require.Equal(t, "+OK\r\n", do(t, addr, "SET k v"))
	rec, err := sh.Get([]byte("k"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, rec.Version.Time, ahead, "the store stamps with its skewed clock")
	require.True(t, strings.HasPrefix(do(t, addr, fmt.Sprintf("VSET early v EVENTTIME %d", ahead+1)), "*5"),
		"the guard rails follow the skewed clock")

	// A value that expires an hour from the base clock is already expired
	// for the store once it is skewed two hours ahead.
	require.Equal(t, "+OK\r\n", do(t, addr, "VFAULT SKEW 0"))
	require.Equal(t, "*5\r\n", do(t, addr, fmt.Sprintf("VSET ttl v EVENTTIME %d PX 3600000", start)))
	require.Equal(t, "$1\r\n", do(t, addr, "GET ttl"))
	require.Equal(t, "+OK\r\n", do(t, addr, "VFAULT SKEW "+strconv.FormatInt(int64(2*time.Hour), 10)))
	require.Equal(t, "$-1\r\n", do(t, addr, "GET ttl"))
}

func TestCrashExits(t *testing.T) {
	n := startFaultNode(t, func(c *Config) { c.AllowFaults = true })
	codes := make(chan int, 1)
	n.exit = func(code int) { codes <- code }
	do(t, n.Addr(), "VFAULT CRASH")
	select {
	case code := <-codes:
		require.Equal(t, 137, code)
	case <-time.After(10 * time.Second):
		t.Fatal("VFAULT CRASH did not exit")
	}
}

func TestPauseXDCNeedsRemoteDCs(t *testing.T) {
	n := startFaultNode(t, func(c *Config) { c.AllowFaults = true })
	require.Equal(t, "-ERR invalid fault: this store applies no other DC's changes\r\n", do(t, n.Addr(), "VFAULT PAUSE-XDC 100"))
	require.ErrorIs(t, n.PauseXDC(-time.Second), ErrInvalidFault)
	require.True(t, n.XDCPausedUntil().IsZero())
}

func TestPauseXDCInDC(t *testing.T) {
	ns := embedded.RunTestServer(t, "dc1")
	n := startFaultNode(t, func(c *Config) {
		c.NATSURL, c.RemoteDCs, c.AllowFaults = ns.ClientURL(), []string{"dc2"}, true
		c.Logger = embedded.TestLogger(t, hclog.Error)
	})
	before := time.Now()
	require.Equal(t, "+OK\r\n", do(t, n.Addr(), "VFAULT PAUSE-XDC 60000"))
	until := n.XDCPausedUntil()
	require.WithinDuration(t, before.Add(time.Minute), until, 5*time.Second)
	status := do(t, n.Addr(), "VFAULT STATUS")
	require.True(t, strings.HasPrefix(status, "$"), status)
	require.Equal(t, "+OK\r\n", do(t, n.Addr(), "VFAULT PAUSE-XDC 0"))
	require.True(t, n.XDCPausedUntil().IsZero())
}

// TestCrashKeepsAcknowledgedWrites runs a store in a child process, writes
// to it, crashes it with VFAULT CRASH and restarts it on the same
// directory: every acknowledged write is there (RocksDB's write-ahead log).
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildDir+"="+dir, "GORACE=atexit_sleep_ms=0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, lines); waitErr = cmd.Wait(); close(exited) }()
	addr := strings.TrimSpace(strings.TrimPrefix(line, "addr="))

	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(20*time.Second)))
	br := bufio.NewReader(nc)
	const keys = 500
	for i := 0; i < keys; i++ {
		_, err := fmt.Fprintf(nc, "SET k%d v%d\r\n", i, i)
		require.NoError(t, err)
		reply, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "+OK\r\n", reply)
	}
	_, err = io.WriteString(nc, "VFAULT CRASH\r\n")
	require.NoError(t, err)
	_, err = br.ReadString('\n')
	require.ErrorIs(t, err, io.EOF, "the store closes nothing: the connection just ends")
	select {
	case <-exited:
		var ee *exec.ExitError
		require.True(t, errors.As(waitErr, &ee), "%v", waitErr)
		require.Equal(t, 137, ee.ExitCode())
	case <-time.After(20 * time.Second):
		t.Fatal("the store did not exit")
	}

	cfg := testConfig(t)
	cfg.Engine.Dir = dir
	n, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Start(testCtx(t)))
	defer func() { require.NoError(t, n.Shutdown(context.Background())) }()
	sh, err := n.Engine().Shard("default", 0)
	require.NoError(t, err)
	for i := 0; i < keys; i++ {
		rec, err := sh.Get([]byte(fmt.Sprintf("k%d", i)))
		require.NoError(t, err, "k%d lost", i)
		require.Equal(t, fmt.Sprintf("v%d", i), string(rec.Value))
	}
}
