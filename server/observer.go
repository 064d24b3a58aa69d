package server

import "time"

// Observer is told of every command a connection answers, for metrics. Its
// method runs on the connection's goroutine: it must be cheap, must not
// block and must be safe for concurrent use.
type Observer interface {
	// Command reports one answered command: its name as the command
	// table spells it (upper case; "unknown" for a command the server
	// does not know), how long it took from being read to being answered
	// (for a write, until its group commit was done), and the error code of
	// its reply (wire.Code*), empty when it succeeded.
	Command(name string, took time.Duration, code string)
}

// unknownName names commands the server does not know, for the Observer.
const unknownName = "unknown"

// observed runs one command and tells the Observer: at once, or, for a
// write whose reply waits for its commit, once the reply is rendered.
func (c *conn) observed(args [][]byte) {
	start := time.Now()
	n := len(c.pending.replies)
	c.code = ""
	name := c.exec(args)
	if len(c.pending.replies) > n {
		d := &c.pending.replies[len(c.pending.replies)-1]
		d.name, d.start = name, start
		return
	}
	c.srv.cfg.Observer.Command(name, time.Since(start), c.code)
}

// observeDeferred tells the Observer of a deferred reply just rendered.
func (c *conn) observeDeferred(d deferred) {
	if d.name == "" {
		return
	}
	c.srv.cfg.Observer.Command(d.name, time.Since(d.start), c.code)
}
