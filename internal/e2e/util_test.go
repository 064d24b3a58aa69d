package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/internal/storenode"
	"github.com/vasto-kv/vasto/internal/storetest"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

func shardOf(key string, n int) uint32 { return topology.ShardOf([]byte(key), n) }

func scanAll() store.ScanOptions { return store.ScanOptions{Limit: store.MaxScanLimit} }

// The child store process: the test binary re-executed with these set.
const (
	childEnv     = "VASTO_E2E_CHILD_DIR"
	childNATSEnv = "VASTO_E2E_CHILD_NATS"
	childAddrEnv = "VASTO_E2E_CHILD_ADDR"
	childIDEnv   = "VASTO_E2E_CHILD_ID"
	childDCEnv   = "VASTO_E2E_CHILD_DC"
	// childFaultsEnv, set to 1, starts the child with fault injection on.
	childFaultsEnv = "VASTO_E2E_CHILD_FAULTS"
	// childTLSEnv ("cert,key,ca"), childCredsEnv (NATS seed file),
	// childACLEnv (ACL file) and childPeerEnv ("user:password") secure
	// the child as a secured devcluster's stores are.
	childTLSEnv   = "VASTO_E2E_CHILD_TLS"
	childCredsEnv = "VASTO_E2E_CHILD_NATS_CREDS"
	childACLEnv   = "VASTO_E2E_CHILD_ACL"
	childPeerEnv  = "VASTO_E2E_CHILD_PEER"
)

// runChild runs a store that joins the cluster, prints "ready" and serves
// until it is killed.
func runChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := hclog.New(&hclog.LoggerOptions{Name: "child", Level: hclog.Warn, Output: os.Stderr})
	cfg := storenode.DefaultConfig(os.Getenv(childEnv), os.Getenv(childAddrEnv))
	cfg.Engine.DC, cfg.Engine.Node = os.Getenv(childDCEnv), os.Getenv(childIDEnv)
	cfg.Engine.BlockCacheBytes, cfg.Engine.WriteBufferBytes = 16<<20, 8<<20
	cfg.NATSURL, cfg.BusName = os.Getenv(childNATSEnv), cfg.Engine.Node
	cfg.Logger = log
	cfg.AllowFaults = os.Getenv(childFaultsEnv) == "1"
	if err := secureChild(&cfg); err != nil {
		fail(err)
	}
	n, err := storenode.New(cfg)
	if err != nil {
		fail(err)
	}
	if err := n.Start(ctx); err != nil {
		fail(err)
	}
	fmt.Println("ready")
	<-ctx.Done()
}

// secureChild applies the child's security settings from its environment.
func secureChild(cfg *storenode.Config) error {
	if v := os.Getenv(childTLSEnv); v != "" {
		f := strings.Split(v, ",")
		cfg.TLS = secure.TLSFiles{CertFile: f[0], KeyFile: f[1], CAFile: f[2], ClientAuth: true}
		var err error
		if cfg.NATSTLS, err = cfg.TLS.Client(); err != nil {
			return err
		}
	}
	cfg.NATSCreds = os.Getenv(childCredsEnv)
	if v := os.Getenv(childACLEnv); v != "" {
		a, err := acl.Load(v)
		if err != nil {
			return err
		}
		cfg.ACL = a
	}
	if user, pw, ok := strings.Cut(os.Getenv(childPeerEnv), ":"); ok {
		cfg.PeerUser, cfg.PeerPassword = user, secure.NewSecret(pw)
	}
	return nil
}

// childStore is a store running in a child process.
type childStore struct {
	t    *testing.T
	dir  string
	addr string
	id   string
	nats string
	dc   string
	// faults starts the child with fault injection on (VFAULT).
	faults bool
	// env is added to the child's environment (childTLSEnv, ...).
	env []string
	cmd *exec.Cmd
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// start starts (or restarts) the child and waits until it is ready.
func (c *childStore) start() {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+c.dir, childNATSEnv+"="+c.nats,
		childAddrEnv+"="+c.addr, childIDEnv+"="+c.id, childDCEnv+"="+c.dc)
	if c.faults {
		cmd.Env = append(cmd.Env, childFaultsEnv+"=1")
	}
	cmd.Env = append(cmd.Env, c.env...)
	out, err := cmd.StdoutPipe()
	require.NoError(c.t, err)
	stderr := &storetest.Buffer{}
	cmd.Stderr = stderr
	require.NoError(c.t, cmd.Start())
	c.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		require.True(c.t, ok, "child store failed: %s", stderr.String())
	case <-time.After(30 * time.Second):
		c.kill()
		c.t.Fatalf("child store not ready: %s", stderr.String())
	}
}

// kill kills the child with SIGKILL: no flush, no drain.
func (c *childStore) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	c.cmd = nil
}

// startChildStore runs a store of c's DC as a child process (so a test can
// kill it with SIGKILL), killed at the end of the test, and waits until the
// topology lists it healthy.
func startChildStore(t *testing.T, c *devcluster.Cluster, cl *client.Client, id string) *childStore {
	t.Helper()
	return startChildStoreFaults(t, c, cl, id, false)
}

// startChildStoreFaults is startChildStore with fault injection on or off.
func startChildStoreFaults(t *testing.T, c *devcluster.Cluster, cl *client.Client, id string, faults bool) *childStore {
	t.Helper()
	return runChildStore(t, cl, &childStore{t: t, dir: t.TempDir(), addr: freeAddr(t), id: id, nats: c.NATSURL(), dc: c.DC(), faults: faults})
}

// runChildStore starts child, killed at the end of the test, and waits
// until the topology lists it healthy.
func runChildStore(t *testing.T, cl *client.Client, child *childStore) *childStore {
	t.Helper()
	child.start()
	t.Cleanup(child.kill)
	require.Eventually(t, func() bool {
		s, ok := cl.Topology().Stores[child.id]
		return ok && s.Healthy
	}, 10*time.Second, 20*time.Millisecond)
	return child
}
