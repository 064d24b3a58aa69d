package master

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// DefaultTickInterval is how often the master looks for stores that stopped
// beating.
const DefaultTickInterval = 100 * time.Millisecond

// Config configures a Master.
type Config struct {
	// DC names the datacenter whose topology the master owns: 1-64 ASCII
	// letters, digits, '-' or '_'.
	DC string
	// Bus is the connection to the DC's NATS. The master does not close it.
	Bus *bus.Conn
	// Logger receives the master's logs (under the name "master"); default:
	// discard.
	Logger hclog.Logger
	// Clock gives the time heartbeats are stamped with; default the system
	// clock.
	Clock lww.Clock
	// TickInterval is how often stores are checked for missed heartbeats;
	// default 100 ms, at most topology.DeadAfter.
	TickInterval time.Duration
	// AutoRecoverAfter: keyspaces the topology does not know but the stores
	// hold (the topology was lost) are recovered by themselves once what
	// the stores report about them has not changed for this long; default
	// DefaultAutoRecoverAfter, negative: never (`vasto keyspace recover`
	// then does it).
	AutoRecoverAfter time.Duration
}

// DefaultAutoRecoverAfter leaves every store that is up two dead-after
// periods to report what it holds before keyspaces are recovered.
const DefaultAutoRecoverAfter = 2 * topology.DeadAfter

// DefaultConfig returns a Config for dc on conn with the defaults filled in.
func DefaultConfig(dc string, conn *bus.Conn) Config {
	return Config{
		DC:               dc,
		Bus:              conn,
		Logger:           hclog.NewNullLogger(),
		Clock:            lww.SystemClock(),
		TickInterval:     DefaultTickInterval,
		AutoRecoverAfter: DefaultAutoRecoverAfter,
	}
}

// withDefaults fills in the zero fields that have a default.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Clock == nil {
		c.Clock = lww.SystemClock()
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.AutoRecoverAfter == 0 {
		c.AutoRecoverAfter = DefaultAutoRecoverAfter
	}
	return c
}

// Validate reports the first problem with c, after defaults are applied to
// its zero fields. Errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !topology.ValidName(c.DC):
		return fmt.Errorf("%w: bad dc name %q (1-64 of A-Z a-z 0-9 _ -)", ErrInvalidConfig, c.DC)
	case c.Bus == nil:
		return fmt.Errorf("%w: nil bus connection", ErrInvalidConfig)
	case c.TickInterval < 0 || c.TickInterval > topology.DeadAfter:
		return fmt.Errorf("%w: tick interval %v not in (0, %v]", ErrInvalidConfig, c.TickInterval, topology.DeadAfter)
	}
	return nil
}
