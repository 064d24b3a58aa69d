package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/internal/storetest"
)

// natsChildEnv holds, JSON-encoded, the natsChildConfig of a NATS server
// child process: the test binary re-executed with it set.
const natsChildEnv = "VASTO_E2E_NATS_CHILD"

// natsChildConfig is what a NATS child needs of its embedded.Config.
type natsChildConfig struct {
	DC, Name, Dir, ClusterListen string
	Port                         int
	Routes                       []string
}

// runNATSChild runs an embedded NATS server of a DC's cluster, prints
// "ready" and serves until it is killed.
func runNATSChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		os.Exit(2)
	}
	var nc natsChildConfig
	if err := json.Unmarshal([]byte(os.Getenv(natsChildEnv)), &nc); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := embedded.DefaultConfig(nc.DC, nc.Dir)
	cfg.Name, cfg.Port, cfg.ClusterListen, cfg.Routes = nc.Name, nc.Port, nc.ClusterListen, nc.Routes
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: nc.Name, Level: hclog.Warn, Output: os.Stderr})
	ns, err := embedded.New(cfg)
	if err == nil {
		err = ns.Start(ctx)
	}
	if err != nil {
		fail(err)
	}
	fmt.Println("ready")
	<-ctx.Done()
	_ = ns.Shutdown(context.Background())
}

// natsChild is a NATS server process of the test.
type natsChild struct {
	t         *testing.T
	name, url string
	dir       string // its data directory
	env       []byte // its natsChildConfig
	cmd       *exec.Cmd
	stderr    *storetest.Buffer
}

// startNATSChildren starts an n-server NATS cluster for dc as child
// processes (embedded.ClusterConfigs, each with a free client port), waits
// until each accepts clients, and kills them when the test ends.
func startNATSChildren(t *testing.T, dc string, n int) []*natsChild {
	t.Helper()
	cfgs, err := embedded.ClusterConfigs(embedded.DefaultConfig(dc, t.TempDir()), n)
	require.NoError(t, err)
	children := make([]*natsChild, n)
	for i, cfg := range cfgs {
		_, ps, _ := net.SplitHostPort(freeAddr(t))
		port, _ := strconv.Atoi(ps)
		env, err := json.Marshal(natsChildConfig{DC: dc, Name: cfg.Name, Dir: cfg.Dir, ClusterListen: cfg.ClusterListen,
			Port: port, Routes: cfg.Routes})
		require.NoError(t, err)
		ch := &natsChild{t: t, name: cfg.Name, url: "nats://" + net.JoinHostPort(embedded.DefaultHost, ps), dir: cfg.Dir, env: env}
		children[i] = ch
		t.Cleanup(ch.kill)
	}
	// A clustered server becomes ready only once it found its routes:
	// start all, then wait for each.
	ready := make([]<-chan bool, n)
	for i, ch := range children {
		ready[i] = ch.spawn()
	}
	for i, ch := range children {
		ch.waitReady(ready[i])
	}
	return children
}

// restartNATSChildren starts killed children again, with their ports,
// names and data directories.
func restartNATSChildren(children []*natsChild) {
	ready := make([]<-chan bool, len(children))
	for i, ch := range children {
		ready[i] = ch.spawn()
	}
	for i, ch := range children {
		ch.waitReady(ready[i])
	}
}

// spawn starts the child process; the channel tells whether it printed
// "ready".
func (c *natsChild) spawn() <-chan bool {
	t := c.t
	t.Helper()
	require.Nil(t, c.cmd, "nats child %s already running", c.name)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), natsChildEnv+"="+string(c.env))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &storetest.Buffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	c.cmd = cmd
	c.stderr = stderr
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready <- sc.Scan() && sc.Text() == "ready"
		for sc.Scan() {
		}
	}()
	return ready
}

func (c *natsChild) waitReady(ready <-chan bool) {
	t := c.t
	t.Helper()
	select {
	case ok := <-ready:
		require.True(t, ok, "nats child %s failed: %s", c.name, c.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("nats child %s not ready: %s", c.name, c.stderr.String())
	}
}

// kill kills the child with SIGKILL (once).
func (c *natsChild) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	c.cmd = nil
}

func natsChildURLs(children []*natsChild) string {
	urls := make([]string, len(children))
	for i, c := range children {
		urls[i] = c.url
	}
	return strings.Join(urls, ",")
}
