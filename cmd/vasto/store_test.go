package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/store"
)

// childEnv makes the test binary run as the vasto binary (see TestMain).
const childEnv = "VASTO_CLI_CHILD"

// child is a vasto command running in a child process.
type child struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    []string // stdout and stderr lines
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// startChild runs `vasto args...` in a child process, killed at the end of
// the test if still running.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), exited: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), childEnv+"=1", "VASTO_NATS=", "VASTO_LOG_LEVEL=info", "GORACE=atexit_sleep_ms=0")
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := c.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	var wg sync.WaitGroup
	for _, r := range []*os.File{stdout.(*os.File), stderr.(*os.File)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				c.mu.Lock()
				c.out = append(c.out, sc.Text())
				c.mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait() // Wait closes the pipes: read them to the end first
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.out, "\n")
}

// match waits for an output line matching re and returns its submatches.
func (c *child) match(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, l := range c.out {
			if m = rx.FindStringSubmatch(l); m != nil {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "no output matching %q", re)
	return m
}

// unreadBytes returns how many received bytes wait unread in nc's socket.
func unreadBytes(t *testing.T, nc net.Conn) int {
	t.Helper()
	rc, err := nc.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var n int32
	var errno syscall.Errno
	require.NoError(t, rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}))
	if errno != 0 {
		require.NoError(t, errno)
	}
	return int(n)
}

// roundTrip sends a raw RESP command on nc and returns the first line of
// the reply, skipping the body of a bulk reply.
func roundTrip(t *testing.T, nc net.Conn, br *bufio.Reader, cmd string) string {
	t.Helper()
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(nc, cmd)
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$"))); strings.HasPrefix(line, "$") && err == nil && n >= 0 {
		_, err = io.CopyN(io.Discard, br, int64(n+2))
		require.NoError(t, err)
	}
	return strings.TrimRight(line, "\r\n")
}

// use is a VUSE of keyspace ks shard 0 as raw RESP, or nothing for the
// default keyspace.
func use(ks string) string {
	if ks == "" {
		return ""
	}
	return fmt.Sprintf("*3\r\n$4\r\nVUSE\r\n$%d\r\n%s\r\n$1\r\n0\r\n", len(ks), ks)
}

// setBig stores a value of the largest size under "big" on the store at
// addr (in keyspace ks, shard 0, if not empty) and waits until the store
// serves it.
func setBig(t *testing.T, addr, ks string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	br := bufio.NewReader(nc)
	if ks != "" {
		require.Equal(t, "+OK", roundTrip(t, nc, br, use(ks)))
	}
	set := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n", store.MaxValueSize, strings.Repeat("v", store.MaxValueSize))
	require.Equal(t, "+OK", roundTrip(t, nc, br, set))
	// A replica refuses reads (CATCHUP) until it has caught up.
	want := fmt.Sprintf("$%d", store.MaxValueSize)
	require.Eventually(t, func() bool {
		return roundTrip(t, nc, br, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n") == want
	}, 20*time.Second, 20*time.Millisecond)
}

// stuckClient connects to addr with a small receive buffer, asks for 16
// large values with one MGET, pipelines GETs behind it and reads nothing.
// It returns once the reply piles up unread: the store has read every
// command and is blocked writing a reply far larger than the socket
// buffers hold (128 KiB here, at most 4 MiB on the store's side).
func stuckClient(t *testing.T, addr, ks string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.(*net.TCPConn).SetReadBuffer(64<<10))
	mget := "*17\r\n$4\r\nMGET\r\n" + strings.Repeat("$3\r\nbig\r\n", 16)
	_, err = nc.Write([]byte(use(ks) + mget + strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 64)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return unreadBytes(t, nc) >= 32<<10 },
		10*time.Second, 5*time.Millisecond, "no reply arrived")
	return nc
}

// sigterm sends SIGTERM to the child and requires it to exit cleanly
// within bound.
func (c *child) sigterm(t *testing.T, bound time.Duration) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	start := time.Now()
	select {
	case <-c.exited:
		t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(bound):
		t.Fatalf("store still running %s after SIGTERM:\n%s", bound, c.output())
	}
	require.NoError(t, c.err, c.output())
}

// TestStoreExitsPromptlyWithClientThatDoesNotRead: a store running alone,
// with a client attached that never reads its replies, exits within 2 s of
// SIGTERM.
func TestStoreExitsPromptlyWithClientThatDoesNotRead(t *testing.T) {
	c := startChild(t, "store", "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--memory-budget", "16")
	addr := c.match(t, `ready on (\S+) `)[1]
	setBig(t, addr, "")
	stuckClient(t, addr, "")
	c.sigterm(t, 2*time.Second)
}

// TestClusterStoreExitsPromptlyWithClientThatDoesNotRead: the same for a
// store in a DC, which stops its server before its cluster agent.
func TestClusterStoreExitsPromptlyWithClientThatDoesNotRead(t *testing.T) {
	cfg := devcluster.DefaultConfig(t.TempDir())
	cfg.Stores = 1
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dc, err := devcluster.Start(ctx, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, dc.Shutdown(context.Background())) }()
	require.NoError(t, dc.WaitReady(ctx))

	c := startChild(t, "store", "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--memory-budget", "16",
		"--nats", dc.NATSURL(), "--dc", dc.DC(), "--id", "slow")
	addr := c.match(t, `ready on (\S+), joined`)[1]
	ccfg := client.DefaultConfig(dc.NATSURL(), dc.DC())
	cl, err := client.New(ctx, ccfg)
	require.NoError(t, err)
	defer cl.Close()
	require.Eventually(t, func() bool {
		s, ok := cl.Topology().Stores["slow"]
		return ok && s.Healthy
	}, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, cl.CreateKeyspace(ctx, "ks", 1, 2))
	require.NoError(t, cl.WaitForServing(ctx, "ks"))
	setBig(t, addr, "ks")
	stuckClient(t, addr, "ks")
	c.sigterm(t, 2*time.Second)
}

// TestStoreAloneLogsNoChanges: a store running alone stores each write once:
// its change log stays empty however many writes it takes (INFO's
// log_first/log_last do not move), and the writes are there after a
// restart.
func TestStoreAloneLogsNoChanges(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, "store", "--dir", dir, "--listen", "127.0.0.1:0", "--memory-budget", "16")
	addr := c.match(t, `ready on (\S+) `)[1]
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	br := bufio.NewReader(nc)
	info := func() string {
		t.Helper()
		require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := io.WriteString(nc, "INFO\r\n")
		require.NoError(t, err)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		require.NoError(t, err, line)
		body := make([]byte, n+2)
		_, err = io.ReadFull(br, body)
		require.NoError(t, err)
		m := regexp.MustCompile(`default:shard=0,keys=\d+,(log_first=\d+,log_last=\d+)`).FindSubmatch(body)
		require.NotNil(t, m, string(body))
		return string(m[1])
	}
	require.Equal(t, "log_first=1,log_last=0", info())

	const writes = 2000
	var b strings.Builder
	for i := range writes {
		fmt.Fprintf(&b, "SET key%d value%d\r\n", i, i)
	}
	require.NoError(t, nc.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(nc, b.String())
	require.NoError(t, err)
	for range writes {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "+OK\r\n", line)
	}
	require.Equal(t, "log_first=1,log_last=0", info())
	require.NoError(t, nc.Close())
	c.sigterm(t, 10*time.Second)

	c = startChild(t, "store", "--dir", dir, "--listen", "127.0.0.1:0", "--memory-budget", "16")
	addr = c.match(t, `ready on (\S+) `)[1]
	nc, err = net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	br = bufio.NewReader(nc)
	require.Equal(t, "$"+strconv.Itoa(len("value1999")), roundTrip(t, nc, br, "GET key1999\r\n"))
	require.Equal(t, "log_first=1,log_last=0", info())
}
