package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/secure"
)

// TestTLSFlagsBrokenAreUsageErrors: TLS asked for with files that cannot
// work stops a daemon or a client command at once with a usage error.
func TestTLSFlagsBrokenAreUsageErrors(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o600))
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"store cert without key":  {"store", "--dir", dir, "--listen", "127.0.0.1:0", "--tls-cert", d.NodeCert},
		"store garbage cert":      {"store", "--dir", dir, "--listen", "127.0.0.1:0", "--tls-cert", garbage, "--tls-key", d.NodeKey},
		"store CA only":           {"store", "--dir", dir, "--listen", "127.0.0.1:0", "--tls-ca", d.CA},
		"gateway missing CA file": {"gateway", "--listen", "127.0.0.1:0", "--tls-cert", d.NodeCert, "--tls-key", d.NodeKey, "--tls-ca", garbage + ".nope"},
		"put garbage CA":          {"put", "ks", "k", "v", "--tls-ca", garbage},
		"chaos skew garbage CA":   {"chaos", "skew", "--store", "127.0.0.1:1", "--by", "1s", "--tls-ca", garbage},
	} {
		code, _, errs := vasto(t, args...)
		require.Equal(t, 2, code, "%s: %s", name, errs)
		require.Contains(t, errs, "TLS", name)
	}
}

// TestTLSClientCommands: against a dev cluster serving TLS, client
// commands given the TLS files (here through the environment) put and get;
// without them they fail.
func TestTLSClientCommands(t *testing.T) {
	d, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	startCLIDC(t, 60*time.Second, func(cfg *devcluster.Config) {
		cfg.Logger, cfg.Stores, cfg.TLS = hclog.NewNullLogger(), 1, d.Node()
	})
	t.Setenv("VASTO_TLS_CA", d.CA)
	t.Setenv("VASTO_TLS_CERT", d.ClientCert)
	t.Setenv("VASTO_TLS_KEY", d.ClientKey)
	createAndPut(t, "sec", "1", "1", "k", "v")
	code, out, errs := vasto(t, "get", "sec", "k")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "v")

	t.Setenv("VASTO_TLS_CA", "")
	t.Setenv("VASTO_TLS_CERT", "")
	t.Setenv("VASTO_TLS_KEY", "")
	code, _, _ = vasto(t, "get", "sec", "k", "--timeout", "3s")
	require.NotEqual(t, 0, code)
}
