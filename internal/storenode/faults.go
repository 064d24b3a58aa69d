package storenode

import (
	"fmt"
	"time"
)

// Fault injection for drills (Config.AllowFaults): the Node implements
// server.Faults, which the RESP server's VFAULT command drives.

// crashExitCode is the status VFAULT CRASH exits with: that of a process
// killed by SIGKILL, which is what the crash stands for.
const crashExitCode = 137

// SetSkew sets the store clock's offset from the base clock: every event
// time the store assigns, every TTL and expiry decision and the purge
// watermark move with it.
func (n *Node) SetSkew(d time.Duration) {
	n.clock.SetSkew(d)
	n.cfg.Logger.Warn("fault: clock skewed", "skew", d.String())
}

// Skew returns the store clock's offset from the base clock.
func (n *Node) Skew() time.Duration { return n.clock.Skew() }

// Crash ends the process at once, as a SIGKILL would: nothing is flushed
// or closed, RocksDB keeps what its write-ahead log holds, NATS sees the
// connection drop.
func (n *Node) Crash() {
	n.cfg.Logger.Warn("fault: crashing the process now", "exit_code", crashExitCode)
	n.exit(crashExitCode)
}

// PauseXDC stops applying other DCs' changes for d (0 resumes at once).
// The changes wait on NATS and are applied, in order, once the pause ends.
func (n *Node) PauseXDC(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: negative pause %s", ErrInvalidFault, d)
	}
	x := n.xdc.Load()
	if x == nil || len(x.RemoteDCs()) == 0 {
		return fmt.Errorf("%w: this store applies no other DC's changes", ErrInvalidFault)
	}
	until := time.Time{}
	if d > 0 {
		until = time.Now().Add(d)
	}
	x.Pause(until)
	n.cfg.Logger.Warn("fault: cross-DC replication paused", "for", d.String())
	return nil
}

// XDCPausedUntil returns when the cross-DC pause ends (zero: not paused).
func (n *Node) XDCPausedUntil() time.Time {
	x := n.xdc.Load()
	if x == nil {
		return time.Time{}
	}
	return x.PausedUntil()
}
