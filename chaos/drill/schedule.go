package drill

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"
)

// FaultKind names a nemesis.
type FaultKind string

// The nemeses.
const (
	// FaultStoreKill kills a store with SIGKILL and restarts it at Until.
	FaultStoreKill FaultKind = "store-kill"
	// FaultStorePause stops a store with SIGSTOP and resumes it at Until.
	FaultStorePause FaultKind = "store-pause"
	// FaultMasterKill kills a DC's master and restarts it at Until.
	FaultMasterKill FaultKind = "master-kill"
	// FaultNATSKill kills a DC's NATS server and restarts it at Until.
	FaultNATSKill FaultKind = "nats-kill"
	// FaultPartition cuts a DC's leafnode links until Until.
	FaultPartition FaultKind = "partition"
	// FaultSlowLink slows a DC's leafnode links until Until.
	FaultSlowLink FaultKind = "slow-link"
	// FaultSkewStore skews one store's clock by Skew until Until.
	FaultSkewStore FaultKind = "skew-store"
	// FaultSkewDC skews every store of a DC by Skew until Until.
	FaultSkewDC FaultKind = "skew-dc"
	// FaultDiskFull fills dc1's first store's disk until Until.
	FaultDiskFull FaultKind = "disk-full"
	// FaultResizeMasterLoss starts a resize of the keyspace to Shards
	// shards in DC, kills the DC's master MasterKillAfter later and
	// restarts it at Until.
	FaultResizeMasterLoss FaultKind = "resize-master-loss"
)

// Fault is one scheduled fault: injected At and healed at Until, both
// offsets from the start of the workload.
type Fault struct {
	At, Until time.Duration
	Kind      FaultKind
	DC        string
	// Store is the store's index in its DC (-1: not a store fault).
	Store int
	// Skew is the clock offset of a skew fault.
	Skew time.Duration
	// Latency and Bandwidth (bytes/s) shape a slow link.
	Latency   time.Duration
	Bandwidth int64
	// Shards is a resize's target shard count; MasterKillAfter is when,
	// after the resize started, the master is killed.
	Shards          int
	MasterKillAfter time.Duration
}

// Target names what the fault hits: "dc2", "dc1/s3".
func (f Fault) Target() string {
	if f.Store >= 0 {
		return f.DC + "/" + StoreID(f.Store)
	}
	return f.DC
}

// String describes the fault on one line.
func (f Fault) String() string {
	s := fmt.Sprintf("%6.1fs-%6.1fs %-18s %s", f.At.Seconds(), f.Until.Seconds(), f.Kind, f.Target())
	switch f.Kind {
	case FaultSkewStore, FaultSkewDC:
		s += fmt.Sprintf(" by %v", f.Skew)
	case FaultSlowLink:
		s += fmt.Sprintf(" latency %v bandwidth %d B/s", f.Latency, f.Bandwidth)
	case FaultResizeMasterLoss:
		s += fmt.Sprintf(" to %d shards, master killed after %v", f.Shards, f.MasterKillAfter)
	}
	return s
}

// Schedule is a drill's faults in time order.
type Schedule struct {
	Seed     int64
	Drill    string
	Duration time.Duration
	Faults   []Fault
}

// HealBy is when every fault is healed: the workload runs its last part
// with no fault.
func (s Schedule) HealBy() time.Duration { return s.Duration * 8 / 10 }

// String lists the faults, one a line.
func (s Schedule) String() string {
	var b strings.Builder
	for _, f := range s.Faults {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// faultLength is the range a fault of each kind lasts.
var faultLength = map[FaultKind][2]time.Duration{
	FaultStoreKill:        {2 * time.Second, 5 * time.Second},
	FaultStorePause:       {1 * time.Second, 3 * time.Second},
	FaultMasterKill:       {2 * time.Second, 6 * time.Second},
	FaultNATSKill:         {2 * time.Second, 5 * time.Second},
	FaultPartition:        {3 * time.Second, 8 * time.Second},
	FaultSlowLink:         {3 * time.Second, 8 * time.Second},
	FaultSkewStore:        {3 * time.Second, 6 * time.Second},
	FaultSkewDC:           {3 * time.Second, 6 * time.Second},
	FaultDiskFull:         {2 * time.Second, 5 * time.Second},
	FaultResizeMasterLoss: {3 * time.Second, 6 * time.Second},
}

// NewSchedule draws the faults of drill for a workload of duration on d
// from seed. It is pure: the same arguments give the same schedule. Faults
// come one after another from a tenth of the duration on, with gaps of
// 0.5-2 s, and are all healed by HealBy. A resize happens at most once and
// grows the keyspace by one shard.
func NewSchedule(seed int64, drill string, duration time.Duration, d Deployment) (Schedule, error) {
	dr, ok := Lookup(drill)
	if !ok {
		return Schedule{}, fmt.Errorf("%w: %q", ErrUnknownDrill, drill)
	}
	if len(d.DCs) == 0 || d.Stores < 1 {
		return Schedule{}, fmt.Errorf("%w: empty deployment", ErrInvalidConfig)
	}
	s := Schedule{Seed: seed, Drill: drill, Duration: duration}
	rng := rand.New(rand.NewPCG(uint64(seed), nameHash(drill)))
	kinds := usable(dr.Kinds, d)
	if len(kinds) == 0 {
		return s, nil
	}
	end := s.HealBy()
	resized := false
	for t := duration / 10; ; {
		kind := kinds[rng.IntN(len(kinds))]
		if kind == FaultResizeMasterLoss && resized {
			kind = FaultStoreKill
		}
		// A resize drill starts with its resize.
		if drill == "resize-under-faults" && !resized {
			kind = FaultResizeMasterLoss
		}
		r := faultLength[kind]
		length := r[0] + time.Duration(rng.Int64N(int64(r[1]-r[0])+1))
		if t+r[0] > end {
			break
		}
		f := drawFault(rng, kind, d)
		f.At, f.Until = t, min(t+length, end)
		if kind == FaultResizeMasterLoss {
			resized = true
			f.MasterKillAfter = min(f.MasterKillAfter, (f.Until-f.At)/2)
		}
		s.Faults = append(s.Faults, f)
		t = f.Until + 500*time.Millisecond + time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
	}
	return s, nil
}

// usable drops the kinds a deployment cannot have: links need two DCs.
func usable(kinds []FaultKind, d Deployment) []FaultKind {
	var out []FaultKind
	for _, k := range kinds {
		if (k == FaultPartition || k == FaultSlowLink) && len(d.DCs) < 2 {
			continue
		}
		out = append(out, k)
	}
	return out
}

// drawFault picks the target and parameters of one fault.
func drawFault(rng *rand.Rand, kind FaultKind, d Deployment) Fault {
	f := Fault{Kind: kind, DC: d.DCs[rng.IntN(len(d.DCs))], Store: -1}
	switch kind {
	case FaultStoreKill, FaultStorePause, FaultSkewStore:
		f.Store = rng.IntN(d.Stores)
	case FaultDiskFull:
		f.DC, f.Store = d.DCs[0], 0
	}
	switch kind {
	case FaultSkewStore, FaultSkewDC:
		// Up to 3 s either way: within the stores' 5 s max-future bound.
		f.Skew = time.Duration(100+rng.IntN(2900)) * time.Millisecond
		if rng.IntN(2) == 0 {
			f.Skew = -f.Skew
		}
	case FaultSlowLink:
		f.Latency = time.Duration(20+rng.IntN(280)) * time.Millisecond
		f.Bandwidth = int64(16<<10) << rng.IntN(5) // 16 KiB/s .. 256 KiB/s
	case FaultResizeMasterLoss:
		f.Shards = d.Shards + 1
		f.MasterKillAfter = time.Duration(200+rng.IntN(1300)) * time.Millisecond
	}
	return f
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}
