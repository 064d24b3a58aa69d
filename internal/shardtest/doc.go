// Package shardtest is the in-memory twin of the shard engine as the
// replication packages see it (replica.Shards/Shard, dc.Shards/Shard):
// records merged with last-writer-wins, a change log, cursors, the meta
// records (epoch, layout, replicas, fill marks), the owner, and a Peer that
// answers dumps and log bounds from another twin, so the unit tests of
// replica and dc run without RocksDB or a network. A contract test runs
// the same assertions against the real store engine and the twin, so the
// twin cannot drift from it. Only _test.go files and other test-support
// packages import it.
//
// Imports: store (types and errors only), lww, topology,
// internal/peerclient (request and page types only), server/resp (its
// error reply type) and the standard library.
package shardtest
