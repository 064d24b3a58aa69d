package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/storetest"
)

// exportedEnv returns the VAR=value pairs of the "export" lines out shows.
func exportedEnv(out string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "export" {
			continue
		}
		for _, kv := range f[1:] {
			if kv == "#" {
				break
			}
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

// TestDevSecure: `vasto dev --secure` starts a DC with everything
// secured and prints the environment that reaches it; client commands
// with that environment work, and each credential removed is refused.
// Password files are private and no secret reaches the output.
func TestDevSecure(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs storetest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--secure", "--dir", dir, "--stores", "2",
			"--nats-port", "0", "--store-port", "0", "--gateway-port", "0"}, &out, &errs)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "stop with Ctrl-C") },
		60*time.Second, 50*time.Millisecond, "stdout: %s\nstderr: %s", &out, &errs)
	env := exportedEnv(out.String())
	for _, k := range []string{"VASTO_NATS", "VASTO_DC", "VASTO_TLS_CA", "VASTO_TLS_CERT", "VASTO_TLS_KEY", "VASTO_NATS_CREDS", "VASTO_USER", "VASTO_PASSWORD_FILE"} {
		require.NotEmpty(t, env[k], "%s exported:\n%s", k, out.String())
		t.Setenv(k, env[k])
	}
	require.True(t, strings.HasPrefix(env["VASTO_NATS"], "tls://"), env["VASTO_NATS"])

	pwFiles, err := filepath.Glob(filepath.Join(dir, "secure", "*.password"))
	require.NoError(t, err)
	require.Len(t, pwFiles, len(devUsers))
	for _, f := range pwFiles {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
		pw, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, out.String()+errs.String(), strings.TrimSpace(string(pw)), "a password in the output")
	}

	createAndPut(t, "sec", "1", "2", "k", "v")
	code, got, stderr := vasto(t, "get", "sec", "k")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, got, "v")

	t.Setenv("VASTO_USER", "reader")
	t.Setenv("VASTO_PASSWORD_FILE", filepath.Join(dir, "secure", "reader.password"))
	code, _, stderr = vasto(t, "put", "sec", "k", "w")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "NOPERM")

	t.Setenv("VASTO_NATS_CREDS", "")
	code, _, stderr = vasto(t, "get", "sec", "k", "--timeout", "5s")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "Authorization Violation")

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("vasto dev did not stop")
	}
}
