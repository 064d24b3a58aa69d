// Package server is a Vasto store's RESP server: it serves the shards of a
// store.Engine to clients over the Redis protocol (RESP2, codec in
// server/resp). It owns the command table, the connections and their
// pipelining (the writes of a pipeline are committed as one group per
// shard, then every reply is sent in order with one flush), SCAN cursors,
// and the mapping of errors to the stable codes of package wire.
//
// Drills: VDIGEST summarises a shard's live records for convergence
// checks; VFAULT drives fault injection through the Faults interface the
// process wiring a store passes in Config.Faults (only when the store was
// started with --allow-faults; otherwise VFAULT answers NOFAULTS), so the
// server itself never reaches the clock's owner, the bus or the cross-DC
// replicator.
//
// It imports store (the engine), wire, lww, server/resp and internal/retry
// (the back-off of its accept loop); it never imports bus or NATS: the
// cluster agent, not the server, talks to the cluster.
//
// Lifecycle: New(cfg) checks the configuration and starts nothing,
// Start(ctx) listens and returns, Shutdown(ctx) stops accepting, lets
// every connection finish the commands it has read, and is idempotent.
package server
