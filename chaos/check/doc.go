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
// Imports: the standard library, lww and topology only (checked by
// internal/archtest).
package check
