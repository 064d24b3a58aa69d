package resp

import (
	"net"
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
