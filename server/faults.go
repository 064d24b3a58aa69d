package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/wire"
)

// Faults is the fault injection VFAULT drives, for failover drills. The
// process wiring a store (internal/storenode) implements it and passes it
// only when the store was started with --allow-faults; without it every
// VFAULT is refused with NOFAULTS.
type Faults interface {
	// SetSkew sets the store clock's offset (absolute; 0 clears it).
	SetSkew(d time.Duration)
	// Skew returns the store clock's offset.
	Skew() time.Duration
	// Crash ends the process at once, closing nothing. It returns only
	// where exiting is replaced (tests).
	Crash()
	// PauseXDC stops applying other DCs' changes for d (0 resumes).
	PauseXDC(d time.Duration) error
	// XDCPausedUntil returns when the pause ends (zero: not paused).
	XDCPausedUntil() time.Time
}

// errNoFaults answers VFAULT on a store started without --allow-faults.
var errNoFaults = errors.New("fault injection is disabled: start the store with --allow-faults")

// maxPause bounds VFAULT PAUSE-XDC: longer than any drill, short enough
// that a forgotten pause ends by itself within a day.
const maxPause = 24 * time.Hour

// cmdFault runs VFAULT SKEW ns | CRASH | PAUSE-XDC ms | STATUS.
func cmdFault(c *conn, args [][]byte) {
	f := c.srv.cfg.Faults
	if f == nil {
		c.w.WriteError(wire.CodeNoFaults + " " + errNoFaults.Error())
		return
	}
	sub := strings.ToUpper(string(args[1]))
	switch {
	case sub == "SKEW" && len(args) == 3:
		ns, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil {
			c.writeErr(syntaxf("VFAULT SKEW takes an offset in nanoseconds"))
			return
		}
		f.SetSkew(time.Duration(ns))
		c.w.WriteSimple("OK")
	case sub == "CRASH" && len(args) == 2:
		c.srv.log.Warn("VFAULT CRASH", "remote", c.nc.RemoteAddr().String())
		f.Crash()
		c.w.WriteSimple("OK") // only when exiting was replaced
	case sub == "PAUSE-XDC" && len(args) == 3:
		ms, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil || ms < 0 || ms > maxPause.Milliseconds() {
			c.writeErr(syntaxf("VFAULT PAUSE-XDC takes milliseconds in 0..%d", maxPause.Milliseconds()))
			return
		}
		if err := f.PauseXDC(time.Duration(ms) * time.Millisecond); err != nil {
			c.w.WriteError(codeErr + " " + stripPackages(err.Error()))
			return
		}
		c.w.WriteSimple("OK")
	case sub == "STATUS" && len(args) == 2:
		until := int64(0)
		if u := f.XDCPausedUntil(); !u.IsZero() {
			until = u.UnixMilli()
		}
		c.w.WriteBulkString(fmt.Sprintf("skew_ns=%d\nxdc_paused_until_unix_ms=%d\n", int64(f.Skew()), until))
	default:
		c.writeErr(syntaxf("VFAULT SKEW ns | CRASH | PAUSE-XDC ms | STATUS"))
	}
}

// cmdDigest runs VDIGEST [AT unix-nanos]: the digest and count of the
// selected shard's live records as of AT (default: the store's clock now).
func cmdDigest(c *conn, args [][]byte) {
	at := c.srv.cfg.Engine.Config().Clock.Now()
	switch {
	case len(args) == 3 && strings.EqualFold(string(args[1]), "AT"):
		n, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil || n <= 0 {
			c.writeErr(syntaxf("AT takes a positive time in nanoseconds since the Unix epoch"))
			return
		}
		at = n
	case len(args) != 1:
		c.writeErr(syntaxf("VDIGEST [AT unix-nanos]"))
		return
	}
	sh, err := c.target()
	if err != nil {
		c.writeErr(err)
		return
	}
	d, count, err := sh.Digest(time.Unix(0, at))
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.WriteArray(2)
	c.w.WriteBulkString(d)
	c.w.WriteInt(int64(count))
}
