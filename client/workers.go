package client

import "sync"

// maxIdleWorkers bounds the goroutines a client keeps waiting for work.
const maxIdleWorkers = 64

// workers runs the requests an operation does not wait for on its own
// goroutine (both requests of a hedged read) on goroutines it keeps for the
// next ones: a fresh goroutine would grow its stack through a request's
// calls every time, which costs more than the request itself.
type workers struct {
	mu     sync.Mutex
	closed bool
	idle   []chan func() // the idle workers' inboxes (buffered, one job)
	wg     sync.WaitGroup
}

// run runs f on an idle worker or a new one. It reports false, and runs
// nothing, once close was called.
func (w *workers) run(f func()) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if n := len(w.idle); n > 0 {
		inbox := w.idle[n-1]
		w.idle = w.idle[:n-1]
		inbox <- f // buffered and empty: does not block
		return true
	}
	w.wg.Add(1)
	go w.loop(f)
	return true
}

// loop runs f, then the jobs given to it while idle, until close or until
// enough other workers are idle.
func (w *workers) loop(f func()) {
	defer w.wg.Done()
	inbox := make(chan func(), 1)
	for {
		f()
		w.mu.Lock()
		if w.closed || len(w.idle) >= maxIdleWorkers {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, inbox)
		w.mu.Unlock()
		var ok bool
		if f, ok = <-inbox; !ok {
			return
		}
	}
}

// close ends the idle workers and waits until the busy ones are done.
func (w *workers) close() {
	w.mu.Lock()
	w.closed = true
	for _, inbox := range w.idle {
		close(inbox)
	}
	w.idle = nil
	w.mu.Unlock()
	w.wg.Wait()
}
