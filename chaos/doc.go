// Package chaos injects faults into a running Vasto deployment for failover
// drills and tests: Proxy is a TCP proxy that can cut a link (a NATS
// leafnode between DCs, a client's path to a store) and restore it.
//
// Everything here works on loopback or inside network namespaces the caller
// made; loops are bounded and stop by themselves.
//
// Imports: the standard library only, today; drills may use the client and
// the bus, never a store's internals.
package chaos
