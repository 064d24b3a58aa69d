// Package chaos runs failover drills against a Vasto cluster: process kills,
// partitions and clock skew, followed by a convergence check that no
// acknowledged write was lost and that every replica and DC holds the same
// records. The end-to-end tests in internal/e2e already kill stores (SIGKILL
// of a child process) and masters during traffic.
package chaos
