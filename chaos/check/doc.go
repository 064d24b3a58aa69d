// Package check records the history of a failover drill and checks it
// against the final state of every replica: its one job is to say whether a
// drill lost, resurrected, invented or exposed a write, whether replicas
// responsible for the same key disagree after healing, whether a replica's
// reads went backwards, and whether an expired value is still served.
//
// A drill appends every operation it runs to a Recorder (Op, one JSON Lines
// row each), reads every replica's records and a client read of every key
// once the faults are healed (Final), and calls Check. Check is pure and
// deterministic: it reads no clock (Final.Now is the time of the final read)
// and does no I/O; only WriteHistory, ReadHistory and a Recorder given a
// writer touch an io.Writer or io.Reader.
//
// # Rules
//
// Versions are compared with lww.Version.Compare, so two writes with the same
// event time from different DCs are ordered, never a conflict. A put is
// identified by its value and event time (the value is unique per put in a
// drill), so a write retried onto two stores, which carries the same value
// and event time under two node names, counts as one put.
//
// Check's rules, per key of each keyspace (the replicas responsible for a
// key are those, in every DC, whose shard is topology.ShardOf(key, Shards)):
//
//   - lost: an ok write the server applied whose version is above the
//     final record (the LWW winner over the responsible replicas); or an ok
//     put whose key ended with no record anywhere, unless a delete or an
//     expired put (ok or unknown) at or after its event time explains it.
//   - resurrection: a lost delete under a live value.
//   - phantom: a value record that no ok or unknown put wrote;
//     failed_write_visible if only a rejected put did.
//   - divergent: responsible replicas holding different records. A missing
//     record agrees with a tombstone (purging is asynchronous), and an
//     expired value agrees with the tombstone that buries it.
//   - backwards: a sampled read from one replica returning a lower version
//     than a read of the same key from that replica that completed before it
//     was invoked.
//   - not_expired: a final read in a DC returning a value whose record there
//     has expired.
//
// Writes a server did not apply are superseded by definition and never
// lost. Per (DC, keyspace, shard) digests of the replicas are compared and
// reported in Stats, not as violations.
//
// Imports: the standard library, lww and topology only (checked by
// internal/archtest).
package check
