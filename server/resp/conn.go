package resp

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// DeadlineWriter gives every write to a client the write timeout: a write
// that makes no complete progress within it fails, and the connection
// closes. Servers put it under their Writer.
type DeadlineWriter struct {
	Conn    net.Conn
	Timeout time.Duration
}

func (w DeadlineWriter) Write(p []byte) (int, error) {
	if err := w.Conn.SetWriteDeadline(time.Now().Add(w.Timeout)); err != nil {
		return 0, err
	}
	return w.Conn.Write(p)
}

// RefuseConn answers a connection a server will not serve (it is full or
// stopping) with the error Redis gives when it has too many clients, and
// closes it. A fresh socket's send buffer takes the reply at once; the one
// second write deadline only guards the caller's accept loop.
//
// A TLS connection (ServeConn refuses them before their handshake, which
// the accept loop must not wait for) is closed without a reply.
func RefuseConn(nc net.Conn) {
	if _, ok := nc.(*tls.Conn); ok {
		_ = nc.Close()
		return
	}
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
	_ = nc.Close()
}

// ServeConn starts a server's connection nc, accepted on a listener that
// speaks as t says: made with newConn (over a TLS connection with t's
// Config), kept in conns while its goroutine, which wg counts, completes
// the TLS handshake and then runs it with run. It refuses nc instead
// (RefuseConn) when full, called with mu held, says the server is full or
// stopping. mu guards conns.
//
// The connection is in conns during its handshake, so a server's Shutdown
// that stops (read deadline) or closes its connections ends handshakes too.
func ServeConn[C comparable](mu *sync.Mutex, conns map[C]struct{}, wg *sync.WaitGroup, nc net.Conn, t TLSAccept,
	full func() bool, newConn func(net.Conn) C, run func(C)) {
	nc = t.wrap(nc)
	mu.Lock()
	if full() {
		mu.Unlock()
		RefuseConn(nc)
		return
	}
	c := newConn(nc)
	conns[c] = struct{}{}
	wg.Add(1)
	mu.Unlock()
	go func() {
		defer wg.Done()
		if t.handshake(nc) {
			run(c)
		}
		mu.Lock()
		delete(conns, c)
		mu.Unlock()
	}()
}
