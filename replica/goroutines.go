package replica

import "sync"

// goroutines owns the agent's goroutines: Go starts one unless the agent is
// shutting down, Close refuses any more, and Wait waits for those started.
// Nothing is ever added to the group once Wait may have begun.
type goroutines struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Go runs f in a goroutine of the group and reports whether it did: after
// Close it starts nothing.
func (g *goroutines) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// Close refuses new goroutines. It is idempotent.
func (g *goroutines) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Wait waits for every goroutine started; call it after Close.
func (g *goroutines) Wait() { g.wg.Wait() }
