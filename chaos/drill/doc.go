// Package drill runs self-contained failover drills: it launches a whole
// Vasto deployment as separate processes of the vasto binary (per DC a NATS
// server, a master and stores; DCs linked by NATS leafnodes through
// chaos.Proxy links), drives a seeded workload through the Go client in
// every DC while it records the history (chaos/check), injects faults on a
// schedule drawn from the seed (kill -9, SIGSTOP, partitions, degraded
// links, clock skew, full disks, master loss during a resize), heals
// everything, waits until every DC holds the same final state and checks
// the history against it.
//
// NewSchedule is pure: the same seed, drill, duration and deployment give
// the same fault schedule, and the workload's operation sequence is drawn
// from the same seed, so a failing run is replayed by its command line.
// Every process is started in its own process group and stopped by PID
// (SIGTERM, then SIGKILL after a deadline), also when the run is cancelled.
//
// Imports: the client, the bus, chaos, chaos/check, topology, lww, wire,
// internal/retry and go-redis; never a store's, a master's or a DC's
// internals, nor internal/peerclient (checked by internal/archtest for all
// of chaos): a drill talks to the deployment the way an operator does.
package drill
