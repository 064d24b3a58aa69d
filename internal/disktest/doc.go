// Package disktest gives tests a real full disk: a size-limited tmpfs
// mounted for the test, and a filler that writes incompressible values
// through a RESP connection until a write fails. Only tests import it.
//
// Imports: go-redis, testify and the standard library.
package disktest
