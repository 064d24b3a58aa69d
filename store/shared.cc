// Engine-wide RocksDB objects that RocksDB 7.8's C API does not expose:
// the write buffer manager every shard shares and a logger that discards,
// and the database options the C API cannot set. The two structs below are
// the C API's own wrappers (rocksdb/c.cc), so the rocksdb_options_t and
// rocksdb_cache_t grocksdb made can be reached.

#include <cstdarg>
#include <memory>

#include "rocksdb/cache.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/write_buffer_manager.h"

#include "shared.h"

struct rocksdb_options_t {
  rocksdb::Options rep;
};

struct rocksdb_cache_t {
  std::shared_ptr<rocksdb::Cache> rep;
};

namespace {

// discardLogger drops RocksDB's info log: one file (and descriptor) per
// shard otherwise, and a write to a full disk that must not happen.
class discardLogger : public rocksdb::Logger {
 public:
  discardLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

}  // namespace

struct vasto_shared_t {
  std::shared_ptr<rocksdb::WriteBufferManager> wbm;
  std::shared_ptr<rocksdb::Logger> logger;
};

vasto_shared_t* vasto_shared_create(size_t write_buffer_bytes,
                                    rocksdb_cache_t* cache) {
  auto* s = new vasto_shared_t;
  s->wbm = std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes,
                                                         cache->rep);
  s->logger = std::make_shared<discardLogger>();
  return s;
}

void vasto_shared_destroy(vasto_shared_t* s) { delete s; }

size_t vasto_shared_memtable_usage(vasto_shared_t* s) {
  return s->wbm->memory_usage();
}

void vasto_shared_apply(vasto_shared_t* s, rocksdb_options_t* opts) {
  rocksdb::Options& o = opts->rep;
  o.write_buffer_manager = s->wbm;
  o.info_log = s->logger;
  o.allow_fallocate = false;
  o.avoid_flush_during_shutdown = true;
  o.avoid_flush_during_recovery = true;
}

int vasto_options_check(rocksdb_options_t* opts) {
  const rocksdb::Options& o = opts->rep;
  return o.write_buffer_manager != nullptr && o.info_log != nullptr &&
         !o.allow_fallocate && o.avoid_flush_during_shutdown &&
         o.avoid_flush_during_recovery;
}
