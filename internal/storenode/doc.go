// Package storenode wires one store process: it opens the shard engine
// (store), serves it over RESP (server), and, when the store joins a DC,
// connects to NATS (bus), builds the cross-DC replicator when there are
// remote DCs (dc) and starts the cluster agent (replica) that drives both.
// Shutdown undoes it in reverse: the server stops taking requests, the
// agent drains the change logs, the NATS connection closes, the engine
// closes. `vasto store`, internal/devcluster and the end-to-end tests' child
// stores all run a store through it.
//
// It may import store, server, bus, replica, dc and lww; never master,
// client, bus/embedded or internal/devcluster. It is server-side: client
// never imports it.
package storenode
