// Package e2e holds end-to-end tests: a whole datacenter (embedded NATS,
// master, stores on real RocksDB) in one process, driven through the Go
// client; some stores run as child processes of the test binary
// (internal/storenode), so a crash or a partition is real.
//
// Only _test.go files: it may import anything of the module, testify and
// goleak.
package e2e
