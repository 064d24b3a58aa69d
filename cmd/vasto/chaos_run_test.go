package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/chaos/drill"
)

func TestChaosListDescribesEveryDrill(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, logLevel: "error"}
	require.NoError(t, runChaosList(context.Background(), e, nil))
	for _, d := range drill.Drills() {
		require.Contains(t, out.String(), d.Name)
		require.Contains(t, out.String(), d.Summary)
	}
}

func TestChaosRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		nil,
		{"--seed", "1"},
		{"no-such-drill", "--dir", dir},
		{"store-crash", "--duration", "1s", "--dir", dir},
		{"store-crash", "--dcs", "0", "--dir", dir},
		{"store-crash", "--stores", "0", "--dir", dir},
		{"store-crash", "extra", "--dir", dir},
	} {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, logLevel: "error"}
		err := runChaosRun(context.Background(), e, args)
		require.ErrorIs(t, err, errUsage, "%v", args)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "bad input starts nothing and writes nothing")
}

func TestChaosRunAndListAreChaosCommands(t *testing.T) {
	code, out, errs := vasto(t, "chaos", "list")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "store-crash")
	code, _, errs = vasto(t, "chaos", "run", "no-such-drill")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "unknown drill")
}
