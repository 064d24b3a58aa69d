// Package dc replicates between datacenters: each DC keeps a local copy
// (source stream) of every other DC's change-log stream over NATS
// leafnodes, and each store applies, per remote DC and keyspace it holds
// shards of, those changes routed through its own DC's topology with
// last-writer-wins (Replicator). It detects changes lost to the streams'
// retention and then copies the keyspace from the remote DC, and it computes
// the tombstone purge watermark the remote DCs allow.
//
// The store's cluster agent (package replica) drives a Replicator through
// its CrossDC interface; the two packages never import each other, the
// process wiring a store joins them. The replicator reaches the bus, the
// shards and the stores of remote DCs only through narrow interfaces (Bus,
// Shards and Shard, Peer through Config.Dial), which internal/storenode
// fills with the real things (ConnBus, EngineShards, DialPeer) and the unit
// tests with in-memory twins (internal/bustest, internal/shardtest).
//
// It may import store (types, errors and the engine it adapts), bus,
// topology, lww, wire and internal/peerclient; never replica, server,
// master or client.
package dc
