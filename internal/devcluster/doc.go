// Package devcluster runs a whole Vasto datacenter in one process: an
// embedded NATS server with JetStream, the master, and N stores, each store
// with its own RocksDB directory, RESP server and cluster agent (wired by
// internal/storenode). `vasto dev` runs it, and end-to-end tests use it to
// start, kill and restart stores.
//
// Imports: bus and bus/embedded, master, internal/storenode (and through it
// the store's packages), internal/retry, lww and hclog. The client must not
// import it.
package devcluster
