package embedded

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/internal/secure"
)

// With TLS settings the client port is TLS only: a plaintext client is
// refused, a client trusting another authority too, one without a client
// certificate too when client certificates are required.
func TestTLSOnly(t *testing.T) {
	dev, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	cfg := TestConfig(t, "dc1", t.TempDir())
	cfg.TLS = dev.Node()
	s := StartTestServer(t, cfg)

	tlsOf := func(f secure.TLSFiles) nats.Option {
		c, err := f.Client()
		require.NoError(t, err)
		return nats.Secure(c)
	}
	connect := func(opts ...nats.Option) error {
		nc, err := nats.Connect(s.ClientURL(), append(opts, nats.Timeout(2*time.Second))...)
		if err == nil {
			nc.Close()
		}
		return err
	}
	// nats.go upgrades to TLS when the server requires it; speak the
	// protocol in plaintext by hand: the server answers with nothing.
	require.True(t, strings.HasPrefix(s.ClientURL(), "tls://127.0.0.1:"), s.ClientURL())
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.ClientURL(), "tls://"), 2*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, info, `"tls_required":true`)
	_, err = conn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n"))
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.Error(t, err, "plaintext got an answer: %q", line)
	require.NotContains(t, line, "PONG")
	require.Error(t, connect(nats.Secure(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})), "no client certificate")
	other, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	require.Error(t, connect(tlsOf(other.Client())), "unknown authority")
	require.Error(t, connect(tlsOf(secure.TLSFiles{CAFile: dev.CA})), "no client certificate")
	require.NoError(t, connect(tlsOf(dev.Client())))
}

func TestSecureConfigValidate(t *testing.T) {
	dev, err := secure.GenerateDev(t.TempDir())
	require.NoError(t, err)
	for i, mut := range []func(*Config){
		func(c *Config) { c.TLS = secure.TLSFiles{CAFile: dev.CA} },         // no certificate to serve
		func(c *Config) { c.TLS = secure.TLSFiles{CertFile: dev.NodeCert} }, // no key
		func(c *Config) {
			c.TLS = secure.TLSFiles{CertFile: dev.NodeCert, KeyFile: dev.NodeKey, ClientAuth: true}
		}, // client auth without CA
		func(c *Config) { c.LeafCreds = filepath.Join(t.TempDir(), "leaf.nk") }, // no remote
	} {
		c := DefaultConfig("dc1", t.TempDir())
		mut(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalidConfig, "case %d", i)
	}

	// An auth config that admits nobody would leave the server open.
	empty := filepath.Join(t.TempDir(), "auth.conf")
	require.NoError(t, os.WriteFile(empty, []byte("authorization {\n  users = []\n}\n"), 0o644))
	_, _, err = LoadAuthConfig(empty)
	require.ErrorIs(t, err, ErrInvalidConfig)
	c := TestConfig(t, "dc1", t.TempDir())
	c.AuthConfig = empty
	s, err := New(c)
	require.NoError(t, err)
	require.ErrorIs(t, s.Start(testCtx(t)), ErrInvalidConfig)
	_, _, err = LoadAuthConfig(filepath.Join(t.TempDir(), "missing.conf"))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// The client port serves a certificate rotated on disk without a restart:
// once the files hold a pair signed by a new authority, a client that
// trusts only the new authority connects.
func TestTLSRotatedCertificate(t *testing.T) {
	dir := t.TempDir()
	dev, err := secure.GenerateDev(dir)
	require.NoError(t, err)
	cfg := TestConfig(t, "dc1", t.TempDir())
	cfg.TLS = secure.TLSFiles{CertFile: dev.NodeCert, KeyFile: dev.NodeKey}
	s := StartTestServer(t, cfg)
	connect := func() error {
		c, err := secure.TLSFiles{CAFile: dev.CA}.Client()
		require.NoError(t, err)
		nc, err := nats.Connect(s.ClientURL(), nats.Secure(c), nats.Timeout(2*time.Second))
		if err == nil {
			nc.Close()
		}
		return err
	}
	require.NoError(t, connect())
	_, err = secure.GenerateDev(dir) // a new authority and pair over the same files
	require.NoError(t, err)
	require.Eventually(t, func() bool { return connect() == nil }, 10*time.Second, 100*time.Millisecond,
		"the rotated pair is served without a restart")
}
