package store

// BenchmarkLayout measures, on raw RocksDB, the choice docs/architecture.md
// records under "many shards per store": n shards as n databases (today's
// layout) against n key prefixes in one database. Each put follows the
// engine's pattern: read the key's current record, then write the record
// and a change-log entry in one batch. 50 goroutines, key i to shard
// i mod n:
//
//	go test -run='^$' -bench=Layout -benchtime=200000x ./store/

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
	"github.com/stretchr/testify/require"
)

func BenchmarkLayout(b *testing.B) {
	for _, layout := range []string{"db-per-shard", "prefix-per-shard", "prefix-per-shard-group"} {
		for _, n := range []int{3, 1000} {
			b.Run(fmt.Sprintf("%s/shards-%d", layout, n), func(b *testing.B) {
				benchLayout(b, layout != "db-per-shard", layout == "prefix-per-shard-group", n)
			})
		}
	}
}

func benchLayout(b *testing.B, prefixed, group bool, n int) {
	d := getBenchData()
	cache := grocksdb.NewLRUCache(256 << 20)
	defer cache.Destroy()
	dir := b.TempDir()

	start := time.Now()
	dbs := make([]*grocksdb.DB, n)
	var opts []*grocksdb.Options
	open := func(path string) *grocksdb.DB {
		o := layoutBenchOptions(cache)
		opts = append(opts, o)
		db, err := grocksdb.OpenDb(o, path)
		require.NoError(b, err)
		return db
	}
	if prefixed {
		db := open(filepath.Join(dir, "store"))
		for i := range dbs {
			dbs[i] = db
		}
	} else {
		for i := range dbs {
			dbs[i] = open(filepath.Join(dir, fmt.Sprint(i)))
		}
	}
	created := time.Since(start)
	defer func() {
		if prefixed {
			dbs[0].Close()
		} else {
			for _, db := range dbs {
				db.Close()
			}
		}
		for _, o := range opts {
			o.Destroy()
		}
	}()

	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	var next, logIndex atomic.Uint64
	gc := &layoutGroupCommit{wb: grocksdb.NewWriteBatch()}
	defer gc.wb.Destroy()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		wb := grocksdb.NewWriteBatch()
		defer wb.Destroy()
		key := make([]byte, 0, 64)
		logKey := make([]byte, 13)
		for pb.Next() {
			i := next.Add(1) - 1
			shard := uint32(i % uint64(n))
			db := dbs[shard]
			key = key[:0]
			if prefixed {
				key = binary.BigEndian.AppendUint32(key, shard)
			}
			key = append(append(key, 'd'), d.key(int(i))...)
			cur, err := db.Get(ro, key)
			if err != nil {
				b.Error(err)
				return
			}
			cur.Free()
			binary.BigEndian.PutUint32(logKey, shard)
			logKey[4] = 'l'
			binary.BigEndian.PutUint64(logKey[5:], logIndex.Add(1))
			if group {
				if err := gc.write(db, wo, key, d.value, logKey); err != nil {
					b.Error(err)
					return
				}
				continue
			}
			wb.Clear()
			wb.Put(key, d.value)
			wb.Put(logKey, key)
			if err := db.Write(wo, wb); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportOps(b, 1)
	b.StopTimer()
	b.ReportMetric(float64(created.Microseconds())/1000/float64(n), "create-ms/shard")
}

// layoutBenchOptions are a shard database's options as far as the write
// path goes: small arena blocks (a thousand databases must not reserve
// a memtable block each), a shared cache, no preallocation-sensitive sizes.
func layoutBenchOptions(cache *grocksdb.Cache) *grocksdb.Options {
	bbto := grocksdb.NewDefaultBlockBasedTableOptions()
	bbto.SetBlockCache(cache)
	bbto.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))
	o := grocksdb.NewDefaultOptions()
	o.SetCreateIfMissing(true)
	o.SetInfoLogLevel(grocksdb.FatalInfoLogLevel)
	o.SetMaxOpenFiles(16)
	o.SetBlockBasedTableFactory(bbto)
	o.SetWriteBufferSize(16 << 20)
	o.SetArenaBlockSize(arenaBlockBytes)
	o.SetCompression(grocksdb.LZ4Compression)
	return o
}

// layoutGroupCommit is the store-wide group commit a shared database would
// need: a writer that finds no commit running writes everything pending,
// of every shard, as one batch; the others wait for it.
type layoutGroupCommit struct {
	mu      sync.Mutex
	leading bool
	pending []*layoutWrite
	wb      *grocksdb.WriteBatch // the leader's
}

type layoutWrite struct {
	key, value, logKey []byte
	err                error
	done               chan struct{}
}

func (g *layoutGroupCommit) write(db *grocksdb.DB, wo *grocksdb.WriteOptions, key, value, logKey []byte) error {
	w := &layoutWrite{key: key, value: value, logKey: logKey, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.leading {
		g.mu.Unlock()
		<-w.done
		return w.err
	}
	g.leading = true
	for len(g.pending) > 0 {
		batch := g.pending
		g.pending = nil
		g.mu.Unlock()
		g.wb.Clear()
		for _, p := range batch {
			g.wb.Put(p.key, p.value)
			g.wb.Put(p.logKey, p.key)
		}
		err := db.Write(wo, g.wb)
		for _, p := range batch {
			p.err = err
			if p != w {
				close(p.done)
			}
		}
		g.mu.Lock()
	}
	g.leading = false
	g.mu.Unlock()
	return w.err
}
