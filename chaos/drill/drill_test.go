package drill

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

// buildVasto builds the vasto binary into a temporary directory.
func buildVasto(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vasto")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/vasto-kv/vasto/cmd/vasto")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestStoreCrashDrillPasses runs a short store-crash drill on 2 DCs of 3
// stores as separate processes and requires a PASS: no acknowledged write
// lost, no phantom or resurrection, every replica converged.
func TestStoreCrashDrillPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a deployment of processes")
	}
	bin := buildVasto(t)
	cfg := DefaultConfig("store-crash")
	cfg.Seed = 9 // kill -9 of dc1/s3 at 1 s, SIGSTOP of it at 4.5 s
	cfg.Duration = 10 * time.Second
	cfg.Dir = t.TempDir()
	cfg.Binary = bin
	cfg.Workers = 2
	cfg.Rate = 40
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "drill", Level: hclog.Warn, Output: logWriter{t}})
	cfg.Out = logWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	require.NoError(t, err)
	report, rerr := os.ReadFile(res.Report)
	require.NoError(t, rerr)
	require.True(t, res.Pass(), "drill failed:\n%s", report)
	kinds := map[FaultKind]bool{}
	for _, ev := range res.Events {
		kinds[ev.Kind] = true
	}
	require.True(t, kinds[FaultStoreKill] && kinds[FaultStorePause], "the schedule killed and paused stores: %v", res.Events)
	for _, ev := range res.Events {
		require.Empty(t, ev.Skipped)
		require.Empty(t, ev.Errors)
	}
	require.Greater(t, res.Check.Stats.Ops["put"]["ok"], 100)
	require.Greater(t, res.Check.Stats.Ops["get"]["ok"], 20)
	require.Greater(t, res.Check.Stats.Ops["delete"]["ok"], 10)
	require.FileExists(t, res.Chart)
	require.Contains(t, string(report), "# Drill store-crash: PASS")
}
