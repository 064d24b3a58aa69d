package gateway

import "time"

// Observer is told of every command a connection answers, for metrics. Its
// method runs on the connection's goroutine: it must be cheap, must not
// block and must be safe for concurrent use.
type Observer interface {
	// Command reports one answered command: its name as the command table
	// spells it (upper case; "unknown" for a command the gateway does not
	// serve), how long it took from being read to being answered, and the
	// error code of its reply (wire.Code*, TRYAGAIN...), empty when it
	// succeeded.
	Command(name string, took time.Duration, code string)
}

// unknownName names the commands the gateway does not serve, for the
// Observer: what a client sent is never a label.
const unknownName = "unknown"

// observed handles one command and tells the Observer: at once, or, for a
// command answered from the batch, once its reply is rendered.
func (c *conn) observed(args [][]byte) {
	start := time.Now()
	name := unknownName
	if cmd, _ := lookup(args[0]); cmd != nil {
		name = cmd.name
	}
	n := len(c.calls)
	c.code = ""
	c.dispatch(args)
	if len(c.calls) > n {
		cl := &c.calls[len(c.calls)-1]
		cl.name, cl.start = name, start
		return
	}
	c.g.cfg.Observer.Command(name, time.Since(start), c.code)
}

// observeCall tells the Observer of a call just rendered.
func (c *conn) observeCall(cl *call) {
	if cl.name == "" || c.g.cfg.Observer == nil {
		return
	}
	c.g.cfg.Observer.Command(cl.name, time.Since(cl.start), c.code)
}
