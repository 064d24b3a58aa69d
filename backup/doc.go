// Package backup copies a keyspace of a DC to a directory and brings it
// back: `vasto backup` and `vasto restore`.
//
// A backup is logical: for each shard, one healthy, caught-up replica is
// dumped page by page (VDUMP, the dump replicas copy each other with), only
// the records the shard owns under the keyspace's layout, tombstones and
// expired values included, every record with its version (event time,
// origin DC and store). Each shard's file lists its records in key order;
// the manifest (manifest.json) names the keyspace, the shard count, each
// file with its record count, its SHA-256, the digest of its live records
// (the digest VDIGEST computes) and the change-log positions of the replica
// when its dump started and ended.
//
// A restore checks the manifest and every file (checksums, decoding) before
// it changes anything, creates the keyspace if it is missing (with the
// backup's shard count or another), routes every record to its shard under
// the target layout and merges it into every replica of that shard with its
// version unchanged (VINGEST): last-writer-wins, so a newer write already
// held is never overwritten and restoring twice changes nothing. It then
// verifies the restored shards against the manifest: the digests when the
// shard count is the backup's, the live record counts otherwise.
//
// It imports client, lww, topology and hclog: it never imports a server
// package (store, server, replica, dc, master, internal/storenode,
// internal/peerclient) or RocksDB, and acts on a running DC from outside.
package backup
