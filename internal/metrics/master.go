package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vasto-kv/vasto/topology"
)

var (
	descTopoVersion = desc("master_topology_version", "Version of the topology the master last published.")
	descStoreHealth = desc("master_store_healthy", "1 when the master sees the store healthy (heartbeats within 1.5 s), else 0.", "store")
	descKeyspaces   = desc("master_keyspaces", "Keyspaces in the topology.")
	descShards      = desc("master_shards", "Shards of a keyspace in the topology.", "keyspace")
	descOpsRunning  = desc("master_operations_running", "Online operations (resize, replace, drain, rebalance) running.")
	descMoves       = desc("master_replica_moves", "Shard replica moves in progress.")
)

// master reads the topology a master published when scraped.
type master struct {
	topo func() *topology.Topology
}

// NewMaster registers the metrics of the master of dc on reg; topo returns
// the topology it last published (master.Master.Topology). The returned
// function unregisters them.
func NewMaster(reg *Registry, dcName string, topo func() *topology.Topology) (func(), error) {
	return reg.register(prometheus.Labels{"dc": dcName}, master{topo: topo})
}

func (m master) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTopoVersion, descStoreHealth, descKeyspaces, descShards, descOpsRunning, descMoves} {
		ch <- d
	}
}

func (m master) Collect(ch chan<- prometheus.Metric) {
	t := m.topo()
	if t == nil {
		return
	}
	ch <- gauge(descTopoVersion, float64(t.Version))
	for id, st := range t.Stores {
		ch <- gauge(descStoreHealth, boolFloat(st.Healthy), id)
	}
	ch <- gauge(descKeyspaces, float64(len(t.Keyspaces)))
	for name, ks := range t.Keyspaces {
		ch <- gauge(descShards, float64(ks.Shards), name)
	}
	running := 0
	for _, op := range t.Ops {
		if op.State == topology.OpRunning {
			running++
		}
	}
	ch <- gauge(descOpsRunning, float64(running))
	ch <- gauge(descMoves, float64(len(t.Moves)))
}
