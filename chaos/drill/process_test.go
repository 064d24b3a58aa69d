package drill

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

// procState reads a process's state letter from /proc (T: stopped).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	require.NoError(t, err)
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	return f[0]
}

func TestProcKillPauseRestartAndStop(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	log := filepath.Join(t.TempDir(), "p.log")
	p := newProc("sleeper", sleep, log, hclog.NewNullLogger(), "60")
	require.False(t, p.Running())
	require.NoError(t, p.Start())
	require.Error(t, p.Start(), "already running")
	pid := p.PID()
	require.True(t, p.Running())
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	require.Equal(t, pid, pgid, "its own process group")

	require.NoError(t, p.Pause())
	require.Eventually(t, func() bool { return procState(t, pid) == "T" }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Resume())
	require.Eventually(t, func() bool { return procState(t, pid) != "T" }, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, p.Kill(context.Background()))
	require.False(t, p.Running())
	require.Zero(t, p.PID())
	require.Error(t, p.Pause(), "not running")

	require.NoError(t, p.Start(), "starts again after a kill")
	require.NotEqual(t, pid, p.PID())
	require.NoError(t, p.Pause())
	start := time.Now()
	p.Stop(5 * time.Second) // a paused process is resumed, then takes SIGTERM
	require.Less(t, time.Since(start), 4*time.Second)
	require.False(t, p.Running())
	p.Stop(time.Second) // idempotent

	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(b), "=== drill: start"), "each start is marked in the log")
}

// TestProcStopKillsWhatIgnoresSIGTERM checks the SIGKILL after the stop
// timeout.
func TestProcStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	log := filepath.Join(t.TempDir(), "p.log")
	p := newProc("stubborn", sh, log, hclog.NewNullLogger(),
		"-c", "trap '' TERM; echo trapped; while :; do sleep 0.05; done")
	require.NoError(t, p.Start())
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "trapped")
	}, 5*time.Second, 10*time.Millisecond, "the shell ignores SIGTERM")
	start := time.Now()
	p.Stop(300 * time.Millisecond)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.False(t, p.Running())
}
