// Package storetest holds the test helpers packages built on the store
// engine share: a logger that writes to t.Log, an engine in a temporary
// directory with a manual clock, and a Buffer that collects a child
// process's or a daemon's output while the test reads it. Only tests
// import it. (The store package's own tests keep their copy: they cannot
// import a package that imports store.)
//
// Imports: store, lww, hclog, testify and the standard library.
package storetest
