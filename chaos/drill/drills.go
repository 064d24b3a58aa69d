package drill

import "slices"

// Drill is one entry of the catalogue.
type Drill struct {
	Name    string
	Summary string
	// Kinds are the faults the drill's schedule draws from.
	Kinds []FaultKind
}

// drills is the catalogue, in the order 'vasto chaos list' prints it.
var drills = []Drill{
	{Name: "store-crash", Summary: "kill -9 a random store and restart it, or freeze it with SIGSTOP and thaw it with SIGCONT; its replicas keep serving",
		Kinds: []FaultKind{FaultStoreKill, FaultStorePause}},
	{Name: "master-loss", Summary: "kill -9 a DC's master and restart it: the stores keep serving the last topology",
		Kinds: []FaultKind{FaultMasterKill}},
	{Name: "nats-crash", Summary: "kill -9 a DC's NATS server and restart it on the same JetStream directory: change logs and topology resume",
		Kinds: []FaultKind{FaultNATSKill}},
	{Name: "dc-partition", Summary: "cut a DC's leafnode link (chaos proxy) and restore it: both sides keep taking writes and converge after the heal",
		Kinds: []FaultKind{FaultPartition}},
	{Name: "wan-degraded", Summary: "slow a DC's link: added latency per chunk and a bandwidth cap, both directions, then back to normal",
		Kinds: []FaultKind{FaultSlowLink}},
	{Name: "clock-skew", Summary: "skew one store's clock, or every store and client of a DC (VFAULT SKEW, client.Config.Clock), ahead or behind, then clear it",
		Kinds: []FaultKind{FaultSkewStore, FaultSkewDC}},
	{Name: "disk-full", Summary: "fill the size-limited tmpfs under dc1's first store until writes fail with ENOSPC, then free it (needs root and mount; skipped otherwise)",
		Kinds: []FaultKind{FaultDiskFull}},
	{Name: "resize-under-faults", Summary: "resize the keyspace in a DC and kill -9 its master during the resize, then kill stores while it completes",
		Kinds: []FaultKind{FaultResizeMasterLoss, FaultStoreKill}},
	{Name: "mixed", Summary: "a random mix of every fault above, one after another",
		Kinds: []FaultKind{FaultStoreKill, FaultStorePause, FaultMasterKill, FaultNATSKill, FaultPartition,
			FaultSlowLink, FaultSkewStore, FaultSkewDC, FaultDiskFull, FaultResizeMasterLoss}},
}

// Drills returns the catalogue.
func Drills() []Drill { return slices.Clone(drills) }

// Lookup returns the drill named name.
func Lookup(name string) (Drill, bool) {
	i := slices.IndexFunc(drills, func(d Drill) bool { return d.Name == name })
	if i < 0 {
		return Drill{}, false
	}
	return drills[i], true
}

// Names returns the drill names in catalogue order.
func Names() []string {
	out := make([]string, len(drills))
	for i, d := range drills {
		out[i] = d.Name
	}
	return out
}
