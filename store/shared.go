package store

// #cgo CXXFLAGS: -std=c++17 -O2
// #cgo LDFLAGS: -lrocksdb -lstdc++
// #include "shared.h"
import "C"

import (
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// shared is what every shard of an engine uses together instead of owning
// its own: one LRU cache that holds the data blocks, index and filter blocks
// and is charged for every memtable; one write buffer manager that makes a
// shard flush when the memtables of all shards together pass their budget;
// and one logger that discards RocksDB's info log (no LOG file, and no
// descriptor, per shard). Background work runs on RocksDB's default Env,
// whose thread pools every database in the process shares.
type shared struct {
	cache *grocksdb.Cache
	c     *C.vasto_shared_t
}

// newShared sizes the cache to cacheBytes and lets the memtables of all
// shards take up to memtableBytes of it.
func newShared(cacheBytes, memtableBytes uint64) *shared {
	cache := grocksdb.NewLRUCache(cacheBytes)
	return &shared{
		cache: cache,
		c:     C.vasto_shared_create(C.size_t(memtableBytes), (*C.rocksdb_cache_t)(nativePtr(unsafe.Pointer(cache)))),
	}
}

// apply makes a shard database's options use the shared objects, and sets
// the options RocksDB 7.8's C API does not reach: no preallocation of the
// write-ahead log and manifest (fallocate), no memtable flush on close or
// after recovery (the write-ahead log is the durability; a reopened shard
// replays it).
func (s *shared) apply(opts *grocksdb.Options) {
	C.vasto_shared_apply(s.c, nativeOptions(opts))
}

// memtableUsage is the memory held by the memtables of all shards.
func (s *shared) memtableUsage() uint64 { return uint64(C.vasto_shared_memtable_usage(s.c)) }

// close releases the engine's references; RocksDB frees each object when
// the last database using it has closed.
func (s *shared) close() {
	C.vasto_shared_destroy(s.c)
	s.cache.Destroy()
}

// sharedApplied reports whether apply's settings are in opts.
func sharedApplied(opts *grocksdb.Options) bool {
	return C.vasto_options_check(nativeOptions(opts)) != 0
}

func nativeOptions(opts *grocksdb.Options) *C.rocksdb_options_t {
	return (*C.rocksdb_options_t)(nativePtr(unsafe.Pointer(opts)))
}

// nativePtr returns the C object a grocksdb Options or Cache wraps: the
// first field of both structs in grocksdb v1.7.14 (TestSharedOptions fails
// if that changes).
func nativePtr(p unsafe.Pointer) unsafe.Pointer { return *(*unsafe.Pointer)(p) }
