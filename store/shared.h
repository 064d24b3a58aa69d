#ifndef VASTO_STORE_SHARED_H
#define VASTO_STORE_SHARED_H

#include <stddef.h>

#include "rocksdb/c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vasto_shared_t vasto_shared_t;

vasto_shared_t* vasto_shared_create(size_t write_buffer_bytes,
                                    rocksdb_cache_t* cache);
void vasto_shared_destroy(vasto_shared_t* s);
size_t vasto_shared_memtable_usage(vasto_shared_t* s);
void vasto_shared_apply(vasto_shared_t* s, rocksdb_options_t* opts);
int vasto_options_check(rocksdb_options_t* opts);

#ifdef __cplusplus
}
#endif

#endif
