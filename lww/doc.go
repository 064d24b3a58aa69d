// Package lww is Vasto's conflict-free core: versions, records, the
// last-writer-wins merge, the hybrid logical clock and the binary codec.
//
// The package is deterministic. It does no I/O and reads no clock of its own:
// every function that needs "now" takes it as an argument, and every component
// that needs a wall clock receives a Clock. SystemClock is the one place that
// reads the operating system's clock, and only the code that injects it calls
// it.
//
// # Ordering rule
//
// A Version is (event time in nanoseconds since the Unix epoch, origin DC,
// origin node). Versions are totally ordered: first by event time, then by the
// origin DC name compared bytewise, then by the origin node name compared
// bytewise. Two writes with the same event time from different origins are
// therefore ordered the same way on every replica, whatever order they arrive
// in.
//
// Two records with the same Version are ordered by kind (a tombstone is above a
// value), then by expiry, then by the value bytes. This only matters for
// records forged or replayed with a reused version; it keeps Merge a total
// order, which is what makes it commutative, associative and idempotent.
//
// # Expiry and tombstones
//
// A record may carry an absolute expiry (ExpiresAt, nanoseconds). Expiry is
// computed from the event time, not from the time a replica applied the write,
// so every replica expires the record at the same instant. An expired value
// still takes part in ordering: it behaves like a tombstone whose deletion time
// is its expiry. Stores must keep either the record or a tombstone with the
// same version until every replica is known to have seen it, or an older write
// arriving late would resurrect the key.
//
// Imports: the standard library only (checked by internal/archtest), so every
// package, the client included, may import lww.
package lww
