// Package gateway is a Redis endpoint for a whole Vasto datacenter: `vasto
// gateway` speaks RESP2 on one address, so redis-cli, redis-py, go-redis or
// redis-benchmark reach every shard of a keyspace without knowing the
// topology. It follows the DC's topology and routes with the Go client
// (package client: Client.Do, Client.Scan), so routing, replica choice,
// failover and retries through resizes and moves are the client's:
//
//   - each key goes to its shard (jump hash of xxhash64), writes to the
//     shard's preferred writable replica, reads to a replica that serves
//     the shard;
//   - a pipeline is split per shard, each shard's commands are sent to
//     their store as one pipelined batch, the stores in parallel, and the
//     replies are answered in the order the commands came;
//   - multi-key commands (MGET, MSET, DEL, EXISTS) are split per key.
//
// A connection starts on Config.Keyspace and picks another with
// `VUSE keyspace` (or `SELECT keyspace`; `SELECT 0` is accepted and changes
// nothing). MULTI ... EXEC queues commands and runs them as one pipeline:
// atomic (one commit on one replica) only when every key is in one shard
// and no read is queued between the writes; otherwise each shard's part is
// independent. SCAN pages through all shards in key order with a numeric
// cursor the connection keeps (opaque to clients).
//
// The gateway holds no data and no state beyond its connections: any
// number of them can serve one DC. It imports client, server/resp,
// topology and wire, never store.
//
// Lifecycle: New(cfg) checks the configuration and starts nothing,
// Start(ctx) follows the topology, listens and returns, Shutdown(ctx)
// stops accepting, lets every connection answer what it has read, and is
// idempotent.
package gateway
