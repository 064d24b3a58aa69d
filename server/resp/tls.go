package resp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// DefaultHandshakeTimeout is the default TLSAccept.Timeout.
const DefaultHandshakeTimeout = 10 * time.Second

// TLSRequiredReply is what a TLS-only port answers a client that speaks
// plaintext RESP to it, before closing the connection (as an HTTPS server
// answers plain HTTP).
const TLSRequiredReply = "-ERR TLS required: this port accepts TLS connections only\r\n"

// HandshakeLogger receives failed handshakes (hclog.Logger is one).
type HandshakeLogger interface {
	Debug(msg string, args ...any)
	Warn(msg string, args ...any)
}

// TLSAccept is how a server's listener speaks TLS. The zero value (nil
// Config) serves plaintext. The handshake runs on the connection's own
// goroutine (ServeConn), never in the accept loop, so a slow or silent
// client holds only its own connection.
type TLSAccept struct {
	// Config is the listener's TLS configuration; nil: plaintext.
	Config *tls.Config
	// Timeout bounds one handshake (0: DefaultHandshakeTimeout).
	Timeout time.Duration
	// Logger, if set, receives failed handshakes with the client's address.
	Logger HandshakeLogger
}

// Enabled reports whether the listener speaks TLS.
func (t TLSAccept) Enabled() bool { return t.Config != nil }

// wrap returns the connection a server serves: nc itself, or a TLS server
// connection over it whose handshake has not started (no I/O).
func (t TLSAccept) wrap(nc net.Conn) net.Conn {
	if t.Config == nil {
		return nc
	}
	return tls.Server(nc, t.Config)
}

// handshake completes the TLS handshake of a connection wrap returned
// (nothing to do for plaintext) within Timeout. A read deadline set on the
// connection meanwhile (a server's Shutdown stopping it) or closing it ends
// the handshake at once. On failure it answers a plaintext client with
// TLSRequiredReply, closes the connection and returns false.
func (t TLSAccept) handshake(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return true
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err == nil {
		return true
	}
	var rh tls.RecordHeaderError
	plaintext := errors.As(err, &rh) && rh.Conn != nil
	if plaintext {
		// The client spoke plaintext: tell it why, on the raw connection.
		// A fresh socket's send buffer takes the line at once; the deadline
		// only bounds a client that reads nothing.
		_ = rh.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(rh.Conn, TLSRequiredReply); err == nil {
			refuseLinger(rh.Conn)
		}
	}
	_ = nc.Close()
	t.logFailure(nc.RemoteAddr(), plaintext, err)
	return false
}

// Bounds of refuseLinger.
const (
	refuseLingerTime  = 250 * time.Millisecond
	refuseLingerBytes = 64 << 10
)

// refuseLinger half-closes a refused plaintext connection and discards
// what the client sent (a little, briefly): closing with its command
// unread would reset the connection, and the client's kernel would drop
// the error line before the client reads it.
func refuseLinger(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(refuseLingerTime))
	_, _ = io.CopyN(io.Discard, nc, refuseLingerBytes)
}

func (t TLSAccept) logFailure(remote net.Addr, plaintext bool, err error) {
	if t.Logger == nil {
		return
	}
	addr := ""
	if remote != nil {
		addr = remote.String()
	}
	var ne net.Error
	switch {
	case plaintext:
		t.Logger.Warn("refused a plaintext client on a TLS port", "remote", addr)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.As(err, &ne) && ne.Timeout(),
		errors.Is(err, context.DeadlineExceeded):
		// Closed or silent clients, and connections a shutdown stopped.
		t.Logger.Debug("TLS handshake did not complete", "remote", addr, "error", err)
	default:
		// Certificates refused either way, protocol versions, ciphers: the
		// error names the cause, never key material.
		t.Logger.Warn("TLS handshake failed", "remote", addr, "error", err)
	}
}
