// Package bustest is the in-memory twin of the message bus (bus.Ops) for
// the unit tests of the replication packages (replica, dc): streams are
// slices of messages, durable consumers keep an acknowledgement floor, and
// nothing touches NATS. Only _test.go files and other test-support packages
// import it.
//
// Imports: bus (its types and names only, never a connection) and the
// standard library.
package bustest
