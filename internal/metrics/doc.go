// Package metrics exposes a Vasto process's metrics in the Prometheus text
// format. It is the only package that imports the Prometheus client
// library: the engine, the RESP server and the replication packages expose
// plain numbers (counters kept in atomics, read through accessors such as
// store.Shard.Stats and store.Shard.DBStats) and small Observer interfaces,
// and this package turns them into metrics.
//
// A process has one Registry (never the global default registry) with the
// Go runtime and process collectors; Serve serves it on /metrics. Each
// component registers its metrics under constant labels naming it: a store
// under {dc, store}, a master under {dc}. `vasto dev` runs every
// component of every DC in one process and so registers them all on one
// registry, told apart by those labels.
//
//   - Store (NewStore) implements store.Observer, server.Observer,
//     replica.Observer and dc.Observer, and reads the shards' counters and
//     RocksDB figures, and the cross-DC links' state, when scraped.
//   - Master (NewMaster) reads the topology the master published when
//     scraped.
//
// Label values are bounded: keyspace, shard, peer store, remote DC,
// command, outcome and error code; never keys.
//
// Imports: prometheus client_golang, hclog, store, server, replica, dc,
// bus, topology, lww and the standard library.
package metrics
