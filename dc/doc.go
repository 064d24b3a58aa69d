// Package dc replicates between datacenters: each DC sources the other DCs'
// change-log streams over NATS leafnodes and applies their changes through
// its own topology with last-writer-wins. Inside one DC, replication is done
// by the stores' agents (package store).
package dc
