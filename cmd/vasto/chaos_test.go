package main

import (
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/devcluster"
)

func TestChaosHelp(t *testing.T) {
	code, _, errs := vasto(t, "chaos", "-h")
	require.Equal(t, 0, code)
	for name := range chaosCommands {
		require.Contains(t, errs, "  "+name+" ")
	}
	for name := range chaosCommands {
		code, _, errs := vasto(t, "chaos", name, "-h")
		require.Equal(t, 0, code, name)
		require.Contains(t, errs, "usage: vasto chaos "+name, name)
		require.Contains(t, errs, "-timeout", name)
	}
	code, _, errs = vasto(t, "chaos", "skew", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, errs, "-by")
	code, _, _ = vasto(t, "chaos")
	require.Equal(t, 2, code)
	code, _, errs = vasto(t, "chaos", "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `unknown chaos command "frobnicate"`)
	code, _, errs = vasto(t, "chaos", "skew", "--by", "1s")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "--store is required")
	code, _, errs = vasto(t, "chaos", "pause-replication", "--store", "127.0.0.1:1", "--for", "48h")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "--for must be in")
	code, _, errs = vasto(t, "chaos", "cut", "--proxy", "10.1.2.3:7000")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "must be a loopback IP")
	code, _, errs = vasto(t, "chaos", "verify", "ks", "--dcs", "dc1")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `--dcs "dc1": want DC=URL`)
}

// TestChaosStoreFaults runs stores as child processes: one without
// --allow-faults refuses every fault; one with it takes a skew, reports it,
// and exits with status 137 on crash.
func TestChaosStoreFaults(t *testing.T) {
	plain := startChild(t, "store", "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--block-cache-mb", "16")
	addr := plain.match(t, `ready on (\S+) `)[1]
	code, _, errs := vasto(t, "chaos", "skew", "--store", addr, "--by", "1s")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "NOFAULTS fault injection is disabled: start the store with --allow-faults")
	code, _, errs = vasto(t, "chaos", "crash", "--store", addr)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "NOFAULTS")
	plain.sigterm(t, 10*time.Second)

	drill := startChild(t, "store", "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--block-cache-mb", "16", "--allow-faults")
	addr = drill.match(t, `ready on (\S+) `)[1]
	code, out, errs := vasto(t, "chaos", "skew", "--store", addr, "--by", "-1500ms")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "clock skewed by -1.5s")
	code, out, errs = vasto(t, "chaos", "fault-status", "--store", addr)
	require.Equal(t, 0, code, errs)
	require.Equal(t, addr+": skew -1.5s, cross-DC replication paused: no\n", out)
	code, _, errs = vasto(t, "chaos", "pause-replication", "--store", addr, "--for", "1m")
	require.Equal(t, 1, code, "a store alone applies no other DC's changes")
	require.Contains(t, errs, "applies no other DC's changes")

	code, out, errs = vasto(t, "chaos", "crash", "--store", addr)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "crashed")
	select {
	case <-drill.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not exit")
	}
	var ee *exec.ExitError
	require.True(t, errors.As(drill.err, &ee), "%v", drill.err)
	require.Equal(t, 137, ee.ExitCode())
}

// TestChaosVerifyExitCode: verify exits 0 on a converged keyspace and 1
// when a replica cannot be compared; fault-status and pause by --dc reach
// every store of the DC.
func TestChaosVerifyExitCode(t *testing.T) {
	ctx, c := startCLIDC(t, 60*time.Second, func(cfg *devcluster.Config) { cfg.Stores, cfg.AllowFaults = 2, true })
	createAndPut(t, "ks", "2", "2", "alice", "42")

	dcs := "dc1=" + c.NATSURL()
	var (
		code      int
		out, errs string
	)
	require.Eventually(t, func() bool {
		code, out, _ = vasto(t, "chaos", "verify", "ks", "--dcs", dcs)
		return code == 0
	}, 20*time.Second, 100*time.Millisecond)
	require.Contains(t, out, "converged: yes")

	code, out, errs = vasto(t, "chaos", "fault-status", "--dc", "dc1", "--nats", c.NATSURL())
	require.Equal(t, 0, code, errs)
	require.Equal(t, 2, strings.Count(out, "skew 0s"), out)

	require.NoError(t, c.StopStore(ctx, 1))
	code, out, errs = vasto(t, "chaos", "verify", "ks", "--dcs", dcs)
	require.Equal(t, 1, code)
	require.Contains(t, out, "converged: no")
	require.Contains(t, errs, "keyspace ks: not converged")
}

// TestChaosProxyCommands runs `vasto chaos proxy` as a child process and
// drives it with slow, fast, cut and restore.
func TestChaosProxyCommands(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer target.Close()
	p := startChild(t, "chaos", "proxy", "--listen", "127.0.0.1:0", "--to", target.Addr().String(), "--control", "127.0.0.1:0")
	m := p.match(t, `proxy ready: (\S+) -> \S+, control http://(\S+)`)
	listen, control := m[1], m[2]

	code, out, errs := vasto(t, "chaos", "slow", "--proxy", control, "--latency", "100ms", "--bandwidth", "65536")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "proxy "+listen+" -> "+target.Addr().String()+": cut=false latency=100ms bandwidth=65536 B/s\n", out)
	code, out, errs = vasto(t, "chaos", "fast", "--proxy", control)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "latency=0s bandwidth=0 B/s")
	code, out, errs = vasto(t, "chaos", "cut", "--proxy", control)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "cut=true")
	code, out, errs = vasto(t, "chaos", "restore", "--proxy", control)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "cut=false")
	code, _, errs = vasto(t, "chaos", "slow", "--proxy", control, "--latency", "-1s")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "must not be negative")
	p.sigterm(t, 10*time.Second)
}
