// Package replica is a store's cluster agent (Agent): it joins the store to
// its DC (heartbeats to the master, following the DC's topology), opens and
// drops the shards placed on the store and sets their owners, publishes each
// shard's change log to the bus, applies the change logs of the shard's
// other replicas (re-bootstrapping a replica that fell behind the stream's
// retention), fills and moves shards for a resize, schedules the cleanup of
// keys an earlier layout left behind and sets the tombstone purge
// watermark. It drives cross-DC replication (package dc) through the
// CrossDC interface, which the process wiring a store fills in.
//
// The agent reaches the bus, the engine and the other stores only through
// narrow interfaces (Bus, Shards and Shard, Peer through AgentConfig.Dial),
// which internal/storenode fills with the real things (ConnBus,
// EngineShards, DialPeer) and the unit tests with in-memory twins
// (internal/bustest, internal/shardtest).
//
// It may import store (the engine it drives), bus, topology, lww, wire,
// internal/retry and internal/peerclient (the RESP client it asks other
// stores with); never dc, server, master or client.
package replica
