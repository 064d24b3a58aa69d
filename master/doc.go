// Package master is the membership and placement authority of one
// datacenter. There is one master per DC; it learns the stores from their
// heartbeats, decides where the shards of each keyspace live, and publishes
// the DC's topology (package topology) in the DC's topology bucket on NATS,
// which stores and clients watch.
//
// # Deterministic core
//
// State holds the topology and the time each store last beat. It does no I/O
// and never reads a clock (the time is passed in), in the style of etcd's
// raft: OnHeartbeat registers stores and marks them healthy, Tick marks
// stores that have not beaten for topology.DeadAfter unhealthy,
// CreateKeyspace places a new keyspace on the healthy stores with
// topology.Place, DeleteKeyspace removes one. Every change increases the
// topology's version by exactly one; the version never decreases.
//
// # Service
//
// Master wires a State to the bus: it subscribes to the DC's heartbeat
// subject, serves the admin operations (topology.Op*) as a queue group
// "vasto-master-<dc>" with the JSON request and reply types of package
// topology, runs a ticker, and publishes the topology whenever it changes.
//
// Publishing is serialized and uses compare-and-set on the bucket revision
// the master last wrote or read, which fences a stale master. When the
// compare-and-set fails, the master re-reads the bucket, rebases on the
// document it finds (keyspaces from the bucket, stores as it hears them,
// version the higher of the two), re-applies the operation in hand and tries
// again, a bounded number of times.
//
// Keyspace changes are made only while holding the publishing lock and are
// published, or undone, before it is released, so the keyspaces the master
// holds are always the ones it published. An admin create or delete is
// answered only once its topology is published: a client that then watches
// the topology sees the change. Read-only admin operations answer from the
// last published topology.
//
// Admin errors are replied as "CODE: message" with the codes of package
// topology (topology.CodeBadName, ...), which a client maps to typed errors.
//
// Heartbeats and ticks only take a short lock on the State; their changes
// are published by a background goroutine, coalesced, and retried with
// back-off if the bus fails, so a slow bus never blocks heartbeats.
//
// # Restarts
//
// A master that starts reads the topology back from the bucket and keeps its
// keyspaces, stores and version, and gives every known store a full
// DeadAfter to beat again before declaring it dead. It never publishes a
// lower version than the one it read.
//
// # Lifecycle
//
// New checks the configuration and starts nothing; Start reads the topology,
// subscribes and starts the goroutines, and returns; Shutdown stops the
// subscriptions and waits for every goroutine, and is idempotent. The bus
// connection belongs to the caller.
//
// Imports: hclog, bus (heartbeats, admin requests, the topology bucket), topology,
// lww and internal/retry; never store, server, replica or dc: the master
// learns everything about the stores from their heartbeats.
package master
