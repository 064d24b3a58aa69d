package secure

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handshake runs one TLS handshake over loopback and returns the client's
// view of the connection and the server's and the client's errors.
func handshake(t *testing.T, srv, cli *tls.Config) (state tls.ConnectionState, srvErr, cliErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		err = tc.Handshake()
		if err == nil {
			// TLS 1.3 reports a rejected client certificate to the client on
			// its first read: write a byte so that read sees it.
			_, err = tc.Write([]byte{1})
		}
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err == nil {
		_, cliErr = c.Read(make([]byte, 1))
		state = c.ConnectionState()
		c.Close()
	} else {
		cliErr = err
	}
	return state, <-done, cliErr
}

func TestMutualTLSWithDevCA(t *testing.T) {
	d, err := GenerateDev(t.TempDir(), "store1.example")
	require.NoError(t, err)
	srv, err := d.Node().Server()
	require.NoError(t, err)
	require.Equal(t, tls.RequireAndVerifyClientCert, srv.ClientAuth)
	cli, err := d.Client().Client()
	require.NoError(t, err)
	cli.ServerName = "127.0.0.1"

	st, sErr, cErr := handshake(t, srv, cli)
	require.NoError(t, sErr)
	require.NoError(t, cErr)
	require.Equal(t, "vasto node", st.PeerCertificates[0].Subject.CommonName)

	// The node certificate also names the extra host.
	cli.ServerName = "store1.example"
	_, sErr, cErr = handshake(t, srv, cli)
	require.NoError(t, sErr)
	require.NoError(t, cErr)
}

func TestWrongCAIsRefused(t *testing.T) {
	ours, err := GenerateDev(t.TempDir())
	require.NoError(t, err)
	theirs, err := GenerateDev(t.TempDir())
	require.NoError(t, err)
	srv, err := ours.Node().Server()
	require.NoError(t, err)

	// A client that trusts another CA refuses our server.
	cli, err := TLSFiles{CAFile: theirs.CA}.Client()
	require.NoError(t, err)
	cli.ServerName = "localhost"
	_, _, cErr := handshake(t, srv, cli)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, cErr, &unknown)

	// A client whose certificate another CA signed is refused by our server.
	cli, err = TLSFiles{CertFile: theirs.ClientCert, KeyFile: theirs.ClientKey, CAFile: ours.CA}.Client()
	require.NoError(t, err)
	cli.ServerName = "localhost"
	_, sErr, _ := handshake(t, srv, cli)
	require.ErrorContains(t, sErr, "certificate signed by unknown authority")

	// And a client with no certificate at all.
	cli, err = TLSFiles{CAFile: ours.CA}.Client()
	require.NoError(t, err)
	cli.ServerName = "localhost"
	_, sErr, _ = handshake(t, srv, cli)
	require.ErrorContains(t, sErr, "didn't provide a certificate")
}

func TestRotatedCertificateIsServedWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	d, err := GenerateDev(dir)
	require.NoError(t, err)
	files := TLSFiles{CertFile: d.NodeCert, KeyFile: d.NodeKey}
	srv, err := files.Server()
	require.NoError(t, err)
	first, err := srv.GetCertificate(nil)
	require.NoError(t, err)

	// A new authority and pair written over the files, as a rotation would.
	d2, err := GenerateDev(dir)
	require.NoError(t, err)
	require.Equal(t, d, d2)
	require.Eventually(t, func() bool {
		c, err := srv.GetCertificate(nil)
		return err == nil && string(c.Certificate[0]) != string(first.Certificate[0])
	}, 5*time.Second, 50*time.Millisecond, "the new pair is served once the check interval passed")

	// A broken rotation keeps the last good pair.
	good, err := srv.GetCertificate(nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(d.NodeCert, []byte("garbage"), 0o644))
	require.Never(t, func() bool {
		c, err := srv.GetCertificate(nil)
		return err != nil || string(c.Certificate[0]) != string(good.Certificate[0])
	}, 1500*time.Millisecond, 100*time.Millisecond)
}

func TestBadTLSSettings(t *testing.T) {
	d, err := GenerateDev(t.TempDir())
	require.NoError(t, err)
	for name, f := range map[string]TLSFiles{
		"cert without key":        {CertFile: d.NodeCert},
		"client auth without CA":  {CertFile: d.NodeCert, KeyFile: d.NodeKey, ClientAuth: true},
		"missing cert":            {CertFile: filepath.Join(t.TempDir(), "nope.pem"), KeyFile: d.NodeKey},
		"key of another cert":     {CertFile: d.NodeCert, KeyFile: d.ClientKey},
		"CA file with no cert":    {CertFile: d.NodeCert, KeyFile: d.NodeKey, CAFile: d.NodeKey},
		"listener without a cert": {CAFile: d.CA},
	} {
		_, err := f.Server()
		require.ErrorIs(t, err, ErrTLSConfig, name)
	}
	_, err = TLSFiles{CAFile: d.NodeKey}.Client()
	require.ErrorIs(t, err, ErrTLSConfig)
	require.False(t, TLSFiles{}.Enabled())
	require.True(t, TLSFiles{CAFile: d.CA}.Enabled())
}

func TestSecretNeverFormats(t *testing.T) {
	s := NewSecret("hunter2")
	type holder struct{ Password Secret }
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s),
		fmt.Sprintf("%+v %#v", holder{s}, holder{s}),
		fmt.Errorf("login: %v", s).Error(),
	} {
		require.NotContains(t, out, "hunter2")
	}
	b, err := json.Marshal(holder{s})
	require.NoError(t, err)
	require.NotContains(t, string(b), "hunter2")
	require.Equal(t, "hunter2", s.Reveal())
	require.True(t, s.Equal(NewSecret("hunter2")))
	require.False(t, s.Equal(NewSecret("hunter3")))
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	require.NoError(t, WriteSecret(p, NewSecret("s3cret")))
	s, err := ReadSecret(p)
	require.NoError(t, err)
	require.Equal(t, "s3cret", s.Reveal())

	require.NoError(t, os.Chmod(p, 0o644))
	_, err = ReadSecret(p)
	require.ErrorIs(t, err, ErrSecret)
	require.ErrorContains(t, err, "chmod 600")

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	_, err = ReadSecret(empty)
	require.ErrorIs(t, err, ErrSecret)
	_, err = ReadSecret(filepath.Join(dir, "missing"))
	require.True(t, errors.Is(err, ErrSecret) && errors.Is(err, os.ErrNotExist))
}
