package e2e

import (
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
)

func shardOf(key string, n int) uint32 { return topology.ShardOf([]byte(key), n) }

func scanAll() store.ScanOptions { return store.ScanOptions{Limit: store.MaxScanLimit} }

const childEnv = "VASTO_E2E_CHILD"

func runChild() {}
