// Package embedded runs a NATS server with JetStream inside a Vasto process.
//
// Each datacenter (DC) runs its own JetStream domain, named after the DC, so
// that a cut WAN link never blocks stream or consumer creation inside a DC.
// DCs are linked with leafnode connections (LeafListen on the hub side,
// LeafRemotes on the spoke side); leafnode links must form a tree.
//
// Within a DC, several servers form one NATS cluster (ClusterListen, Routes,
// a unique Name each, the same ClusterName and DC): they share the DC's
// JetStream domain and hold replicated streams, so the DC survives losing
// one server of three (two of five). ClusterConfigs and WaitCluster set one
// up on the loopback.
//
// Only this package imports github.com/nats-io/nats-server. Clients use
// package bus, which depends on nats.go only.
//
// Lifecycle: New validates the configuration and starts nothing; Start
// starts the server, waits until it accepts clients and returns; Shutdown
// stops it and waits until it has stopped, and may be called any number of
// times.
//
// Two traps of embedding nats-server are handled here: the server is started
// with NoSigs, so it never installs SIGINT/SIGTERM handlers that would call
// os.Exit and skip Vasto's own shutdown, and it logs through an adapter to
// hclog whose Fatalf logs an error instead of exiting the process; Start
// reports the fatal message as its error.
//
// # Durability
//
// JetStream fsyncs its files every SyncInterval (default 1 s here instead of
// the server's 2 minutes). An acknowledged message survives a process crash
// at once, and a machine crash or power loss except for at most the last
// SyncInterval of messages. Fsyncing every message (SyncAlways in the
// server) costs about 40x in publish throughput, and is not needed: the data
// that must never be lost is protected by the store's RocksDB outbox, which
// is trimmed only after JetStream acknowledged a message; JetStream is the
// transport. A shorter SyncInterval narrows the loss window at the cost of
// more fsyncs; a longer one saves I/O.
package embedded
