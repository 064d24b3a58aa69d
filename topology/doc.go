// Package topology holds the cluster map of one datacenter that the master
// publishes and that stores and clients follow: which stores exist, where
// they listen, whether they are healthy, and which stores hold each shard of
// each keyspace. It also holds the routing rule every party must agree on:
// a key goes to shard JumpHash(xxhash64(key), shards).
//
// The package is pure (no I/O, no clock reads), so clients may import it.
package topology
