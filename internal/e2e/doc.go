// Package e2e holds end-to-end tests: a whole datacenter (embedded NATS,
// master, stores on real RocksDB) in one process, driven through the Go
// client.
package e2e
