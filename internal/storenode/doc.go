// Package storenode wires one store process: it opens the shard engine
// (store), serves it over RESP (server), and, when the store joins a DC,
// connects to NATS (bus), builds the cross-DC replicator when there are
// remote DCs (dc) and starts the cluster agent (replica) that drives both.
// Shutdown undoes it in reverse: the server stops taking requests, the
// agent drains the change logs, the NATS connection closes, the engine
// closes. `vasto store`, internal/devcluster and the end-to-end tests' child
// stores all run a store through it.
//
// The store's clock is an lww.SkewedClock over Config.Engine.Clock: the
// engine gets it, and the server, the agent and the cross-DC replicator
// read time through the engine's Config, so a drill that skews it moves
// every event time, TTL and expiry decision the store makes. With
// Config.AllowFaults the Node is the server's Faults: VFAULT skews that
// clock, crashes the process (os.Exit(137), closing nothing) and pauses
// cross-DC replication (dc.Replicator.Pause).
//
// It may import store, server, bus, replica, dc and lww; never master,
// client, bus/embedded or internal/devcluster. It is server-side: client
// never imports it.
package storenode
