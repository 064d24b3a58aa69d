package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/store"
)

const acceptChildEnv = "VASTO_STORE_ACCEPT_CHILD_DIR"

// runAcceptChild serves a store and, on the commands read from stdin, runs
// out of file descriptors ("fill") or frees them again ("free"). It logs to
// stderr and answers on stdout.
func runAcceptChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	cfg := store.DefaultConfig(os.Getenv(acceptChildEnv))
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: os.Stderr})
	cfg.BlockCacheBytes, cfg.WriteBufferBytes = 8<<20, 4<<20
	e, err := store.Open(cfg)
	if err != nil {
		fail(err)
	}
	if _, err := e.EnsureShard(DefaultKeyspace, 0); err != nil {
		fail(err)
	}
	scfg := DefaultConfig("127.0.0.1:0", e)
	scfg.Logger = cfg.Logger
	srv, err := New(scfg)
	if err != nil {
		fail(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		fail(err)
	}
	fmt.Println(srv.Addr().String())
	// Keep the descriptors to fill with few: 256 at most.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fail(err)
	}
	lim.Cur = min(lim.Cur, 256)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fail(err)
	}
	var held []*os.File
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "fill":
			for {
				f, err := os.Open(os.DevNull)
				if errors.Is(err, syscall.EMFILE) {
					break
				}
				if err != nil {
					fail(err)
				}
				held = append(held, f)
			}
			fmt.Println("full")
		case "free":
			for _, f := range held {
				_ = f.Close()
			}
			held = nil
			fmt.Println("freed")
		}
	}
	// stdin closed: the parent is done.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = e.Close()
}

// TestServerAcceptSurvivesEMFILE runs a store in a child process that runs
// out of file descriptors while a client connects: accepting fails with
// EMFILE. Once descriptors are free again, that client and new ones are
// served.
func TestServerAcceptSurvivesEMFILE(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), acceptChildEnv+"="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderrR, stderrW := io.Pipe()
	cmd.Stderr = stderrW
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = stderrW.Close()
	})

	// The child's log, kept, and its accept failures signalled.
	var (
		mu       sync.Mutex
		logLines []string
	)
	acceptFailed := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stderrR)
		for sc.Scan() {
			mu.Lock()
			logLines = append(logLines, sc.Text())
			mu.Unlock()
			if strings.Contains(sc.Text(), "accept failed") {
				select {
				case acceptFailed <- struct{}{}:
				default:
				}
			}
		}
	}()
	childLog := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(logLines, "\n")
	}
	out := bufio.NewScanner(stdout)
	expect := func(want string) string {
		t.Helper()
		require.True(t, out.Scan(), "child ended: %s", childLog())
		if want != "" {
			require.Equal(t, want, out.Text(), childLog())
		}
		return out.Text()
	}
	addr := expect("")
	ping := func(nc net.Conn) error {
		if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return err
		}
		if _, err := nc.Write([]byte("PING\r\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil {
			return err
		}
		if line != "+PONG\r\n" {
			return fmt.Errorf("reply %q", line)
		}
		return nil
	}
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, ping(nc))
	require.NoError(t, nc.Close())

	_, err = io.WriteString(stdin, "fill\n")
	require.NoError(t, err)
	expect("full")
	// The kernel completes the handshake; the child cannot accept it.
	waiting, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer waiting.Close()
	select {
	case <-acceptFailed:
	case <-time.After(20 * time.Second):
		t.Fatalf("no accept failure logged: %s", childLog())
	}

	_, err = io.WriteString(stdin, "free\n")
	require.NoError(t, err)
	expect("freed")
	require.NoError(t, ping(waiting), "the client that connected meanwhile: %s", childLog())
	require.Eventually(t, func() bool { return strings.Contains(childLog(), "accepting again") },
		10*time.Second, 10*time.Millisecond)
	nc, err = net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, ping(nc), "a new client: %s", childLog())
}
