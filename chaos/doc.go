// Package chaos injects faults into a running Vasto deployment for failover
// drills and tests, and checks what the deployment holds afterwards.
//
//   - Proxy is a TCP proxy in front of a link (a NATS leafnode between DCs,
//     a client's path to a store): Cut closes it and refuses connections
//     until Restore; Slow delays every chunk and caps the bandwidth until
//     Fast. ProxyControl serves a small HTTP API on loopback to drive one
//     from another process, ProxyClient calls it (`vasto chaos proxy`,
//     `cut`, `restore`, `slow`, `fast`).
//   - SkewStore, CrashStore, PauseReplication and StoreFaults drive a
//     store's fault injection over its RESP port (VFAULT), which a store
//     accepts only when started with --allow-faults.
//   - Verify asks every replica of a keyspace in every DC for a digest of
//     its live records at one common time (VDIGEST AT), compares replicas
//     within and across DCs, and lists the keys that differ (from VDUMP).
//
// Everything here works on loopback; loops are bounded and stop by
// themselves.
//
// Imports: chaos acts from outside, as an operator's tool would: the RESP
// protocol (go-redis), NATS through bus (topologies), client, lww,
// topology, wire and hclog. It never imports a store's internals (store,
// server, replica, dc, master, internal/storenode, internal/devcluster,
// internal/peerclient, bus/embedded), even transitively (checked by
// internal/archtest). chaos/check, the history and convergence checker, is
// pure: the standard library, lww and topology only.
package chaos
