package chaos

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from its listen address to a target and can
// cut the link: Cut closes every forwarded connection and refuses new ones
// until Restore. It is the partition of a drill. Slow makes the link slow
// instead (a delay on every chunk and a bandwidth cap, both directions)
// until Fast.
type Proxy struct {
	target string
	// latency and bytesPerSec are the shaping Slow set (0: none); the
	// forwarding goroutines read them for every chunk, so a change applies
	// to the connections already open.
	latency     atomic.Int64
	bytesPerSec atomic.Int64
	quit        chan struct{} // closed by Shutdown

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	cut    bool
	closed bool
	wg     sync.WaitGroup
}

// NewProxy returns a proxy to target that is not started.
func NewProxy(target string) *Proxy {
	return &Proxy{target: target, conns: map[net.Conn]struct{}{}, quit: make(chan struct{})}
}

// Start listens on listen (e.g. "127.0.0.1:0") and forwards in the
// background.
func (p *Proxy) Start(ctx context.Context, listen string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("chaos: proxy listen: %w", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept()
	return nil
}

// Addr is the address clients dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut || p.closed {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.mu.Unlock()
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !p.track(in, out) {
			continue
		}
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// track registers a forwarded pair unless the link was cut meanwhile.
func (p *Proxy) track(in, out net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		_ = in.Close()
		_ = out.Close()
		return false
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	return true
}

// pipe reads src and hands what it reads, stamped with its arrival, to a
// forwarder that writes it to dst once the shaping allows.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	chunks := make(chan chunk, maxQueuedChunks)
	p.wg.Add(1)
	go p.forward(dst, src, chunks)
	defer close(chunks)
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			chunks <- chunk{b: buf[:n], at: time.Now()}
		}
		if err != nil {
			return
		}
	}
}

// forward writes the chunks to dst, each no earlier than its arrival plus
// the latency and no faster than the bandwidth cap. When the chunks end or
// a write fails it closes both connections (and drains what is left, so
// the reader never blocks).
func (p *Proxy) forward(dst, src net.Conn, chunks <-chan chunk) {
	defer p.wg.Done()
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		for range chunks {
		}
	}()
	var next time.Time // when the bandwidth cap lets the next bytes go
	for c := range chunks {
		if !p.waitUntil(c.at.Add(time.Duration(p.latency.Load()))) {
			return
		}
		for b := c.b; len(b) > 0; {
			piece := b
			bps := p.bytesPerSec.Load()
			if bps > 0 {
				piece = b[:min(len(b), int(max(bps/capSlicesPerSec, 1)))]
				if !p.waitUntil(next) {
					return
				}
				next = later(next, time.Now()).Add(time.Duration(float64(len(piece)) / float64(bps) * float64(time.Second)))
			}
			if _, err := dst.Write(piece); err != nil {
				return
			}
			b = b[len(piece):]
		}
	}
}

// waitUntil waits until t; false when the proxy shuts down first.
func (p *Proxy) waitUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-p.quit:
		return false
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Forwarding sizes.
const (
	chunkSize       = 32 << 10
	maxQueuedChunks = 64
	// capSlicesPerSec cuts writes under a bandwidth cap into pieces of at
	// most a twentieth of a second's worth, so the rate is smooth.
	capSlicesPerSec = 20
)

// chunk is what one read returned and when.
type chunk struct {
	b  []byte
	at time.Time
}

// Slow delays every chunk forwarded, in both directions, by latency and
// caps each direction of each connection at bytesPerSec (0: no cap),
// connections already open included. Negative values count as 0.
func (p *Proxy) Slow(latency time.Duration, bytesPerSec int64) {
	p.latency.Store(int64(max(latency, 0)))
	p.bytesPerSec.Store(max(bytesPerSec, 0))
}

// Fast removes the delay and the bandwidth cap.
func (p *Proxy) Fast() { p.Slow(0, 0) }

// Shaping returns the delay and the bandwidth cap in force (0: none).
func (p *Proxy) Shaping() (latency time.Duration, bytesPerSec int64) {
	return time.Duration(p.latency.Load()), p.bytesPerSec.Load()
}

// Cut closes every forwarded connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// IsCut reports whether the link is cut.
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// Shutdown stops listening, closes every connection and waits for the
// forwarding goroutines. It is idempotent.
func (p *Proxy) Shutdown() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	if p.ln != nil {
		_ = p.ln.Close()
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
