package drill

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Limits of a Config.
const (
	MaxDCs         = 5
	MaxStores      = 9
	MinDuration    = 5 * time.Second
	MaxDuration    = time.Hour
	DefaultSeed    = 1
	defaultWorkers = 3
)

// Config configures one drill run.
type Config struct {
	// Drill names the drill (see Drills).
	Drill string
	// Seed draws the fault schedule and the operation sequence.
	Seed int64
	// Duration is how long the workload runs; faults happen within it and
	// are healed before it ends.
	Duration time.Duration
	// DCs and Stores size the deployment: DCs (dc1, dc2, ...) of Stores
	// stores each.
	DCs, Stores int
	// Dir holds every process's data and log, the history and the report.
	Dir string
	// Binary is the vasto binary the deployment runs.
	Binary string
	// Report is the Markdown report's path; empty: Dir/report.md. The
	// chart goes next to it (same name, .png).
	Report string
	// Keyspace is the keyspace the workload writes, with Shards shards and
	// Replicas replicas in every DC.
	Keyspace         string
	Shards, Replicas int
	// Workers is the number of workload goroutines per DC.
	Workers int
	// Keys is the number of distinct workload keys; HotKeys of them take
	// about half of the operations.
	Keys, HotKeys int
	// Rate bounds each worker's operations per second (0: unbounded).
	Rate int
	// ConvergeTimeout bounds the wait for convergence after the last heal.
	ConvergeTimeout time.Duration
	// StopTimeout is how long a process gets after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// KeepData keeps the stores' and NATS's data directories after the
	// run; logs, the history and the report are always kept.
	KeepData bool
	// Logger receives the runner's logs; Out, if not nil, a line per
	// fault and phase as the drill goes.
	Logger hclog.Logger
	Out    io.Writer
}

// DefaultConfig returns a Config for drill with every default filled in;
// Dir and Binary still need to be set.
func DefaultConfig(drill string) Config {
	return Config{
		Drill:           drill,
		Seed:            DefaultSeed,
		Duration:        30 * time.Second,
		DCs:             2,
		Stores:          3,
		Keyspace:        "drill",
		Shards:          4,
		Replicas:        2,
		Workers:         defaultWorkers,
		Keys:            200,
		HotKeys:         5,
		Rate:            50,
		ConvergeTimeout: 60 * time.Second,
		StopTimeout:     5 * time.Second,
		Logger:          hclog.NewNullLogger(),
	}
}

// Validate reports an invalid configuration with an error wrapping
// ErrInvalidConfig (or ErrUnknownDrill).
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if _, ok := Lookup(c.Drill); !ok {
		return fmt.Errorf("%w: %q (see 'vasto chaos list')", ErrUnknownDrill, c.Drill)
	}
	switch {
	case c.Duration < MinDuration || c.Duration > MaxDuration:
		return bad("duration %v: want %v..%v", c.Duration, MinDuration, MaxDuration)
	case c.DCs < 1 || c.DCs > MaxDCs:
		return bad("%d DCs: want 1..%d", c.DCs, MaxDCs)
	case c.Stores < 1 || c.Stores > MaxStores:
		return bad("%d stores per DC: want 1..%d", c.Stores, MaxStores)
	case c.Dir == "":
		return bad("no directory")
	case c.Binary == "":
		return bad("no vasto binary")
	case c.Keyspace == "":
		return bad("no keyspace")
	case c.Shards < 1 || c.Shards > 64:
		return bad("%d shards: want 1..64", c.Shards)
	case c.Replicas < 1 || c.Replicas > c.Stores:
		return bad("%d replicas: want 1..%d (the stores per DC)", c.Replicas, c.Stores)
	case c.Workers < 1 || c.Workers > 64:
		return bad("%d workers: want 1..64", c.Workers)
	case c.Keys < 1 || c.HotKeys < 0 || c.HotKeys > c.Keys:
		return bad("%d keys with %d hot: want keys >= 1 and 0 <= hot <= keys", c.Keys, c.HotKeys)
	case c.Rate < 0:
		return bad("rate %d is negative", c.Rate)
	case c.ConvergeTimeout <= 0 || c.StopTimeout <= 0:
		return bad("timeouts must be positive")
	case c.Logger == nil:
		return bad("no logger")
	}
	return nil
}

// Deployment describes what a drill runs: it is what NewSchedule draws
// targets from.
func (c Config) Deployment() Deployment {
	d := Deployment{Stores: c.Stores, Shards: c.Shards}
	for i := 1; i <= c.DCs; i++ {
		d.DCs = append(d.DCs, "dc"+strconv.Itoa(i))
	}
	return d
}

// Deployment names the DCs of a drill, the stores per DC and the
// keyspace's shards per DC.
type Deployment struct {
	DCs    []string
	Stores int
	Shards int
}

// StoreID is the id of store i (0-based) of a DC.
func StoreID(i int) string { return "s" + strconv.Itoa(i+1) }

// ReplayCommand is the command line that runs the same drill again.
func (c Config) ReplayCommand() string {
	return fmt.Sprintf("vasto chaos run %s --seed %d --duration %s --dcs %d --stores %d",
		c.Drill, c.Seed, c.Duration, c.DCs, c.Stores)
}
