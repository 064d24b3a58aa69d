package resp

import (
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
func RefuseConn(nc net.Conn) {
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
	_ = nc.Close()
}

// ServeConn starts a server's connection nc: made with newConn, kept in
// conns while run runs it on its own goroutine, which wg counts. It refuses
// nc instead (RefuseConn) when full, called with mu held, says the server
// is full or stopping. mu guards conns.
func ServeConn[C comparable](mu *sync.Mutex, conns map[C]struct{}, wg *sync.WaitGroup, nc net.Conn,
	full func() bool, newConn func(net.Conn) C, run func(C)) {
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
		run(c)
		mu.Lock()
		delete(conns, c)
		mu.Unlock()
	}()
}
