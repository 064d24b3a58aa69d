package store

// Benchmarks comparing Vasto's shard engine with raw grocksdb doing the same
// work, in the same binary, so `go test -run='^$' -bench=. ./store/` prints
// them side by side:
//
//	BenchmarkPut/raw-single        BenchmarkPut/vasto-single
//	BenchmarkPut/raw-parallel      BenchmarkPut/vasto-parallel
//	BenchmarkBatchPut/raw-100      BenchmarkBatchPut/vasto-100
//	BenchmarkGet/raw               BenchmarkGet/vasto
//	BenchmarkGet/raw-parallel      BenchmarkGet/vasto-parallel
//	BenchmarkMultiGet/raw-100      BenchmarkMultiGet/vasto-100
//	BenchmarkScan/raw-prefix-1000  BenchmarkScan/vasto-prefix-1000
//	BenchmarkIngest/apply-10000    BenchmarkIngest/ingest-10000
//
// Keys are 16 bytes, values 100 bytes, keys drawn at random (fixed seed) from
// a space of 1M. Keys are generated before the timer starts. Vasto does more
// work per write than raw RocksDB by design (a last-writer-wins read before
// write, a versioned record envelope and a change-log entry per write), so
// the ratios measure the price of those guarantees plus the engine overhead.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

const (
	benchKeySize   = 16
	benchValueSize = 100
	benchKeySpace  = 1_000_000
	// benchSeqLen is the length of the pre-generated random key sequence
	// the timed loops walk through (wrapping around).
	benchSeqLen  = 1 << 20
	benchSeqMask = benchSeqLen - 1
	// benchLoaded is how many keys the read benchmarks preload.
	benchLoaded = 100_000
	// benchParallelism makes RunParallel use 25*GOMAXPROCS writers.
	benchParallelism = 25
	benchCacheBytes  = 64 << 20
	benchBufferBytes = 64 << 20
)

// benchData is generated once per process, outside every timer.
type benchData struct {
	keys   [][]byte // keys[i] is the i-th key of the key space
	seq    []uint32 // random indexes into keys
	loaded [][]byte // the keys the read benchmarks preload, in random order
	value  []byte   // 100 random bytes
	scan   [][]byte // 1000 keys sharing scanPrefix, sorted
}

var (
	benchOnce sync.Once
	bench     *benchData
)

const scanPrefix = "scan"

func getBenchData() *benchData {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(0x7a57, 0xba5e))
		d := &benchData{}
		buf := make([]byte, 0, benchKeySpace*benchKeySize)
		d.keys = make([][]byte, benchKeySpace)
		for i := range d.keys {
			start := len(buf)
			buf = fmt.Appendf(buf, "user%012d", i)
			d.keys[i] = buf[start:len(buf):len(buf)]
		}
		d.seq = make([]uint32, benchSeqLen)
		for i := range d.seq {
			d.seq[i] = uint32(r.IntN(benchKeySpace))
		}
		perm := r.Perm(benchKeySpace)
		d.loaded = make([][]byte, benchLoaded)
		for i := range d.loaded {
			d.loaded[i] = d.keys[perm[i]]
		}
		d.value = make([]byte, benchValueSize)
		for i := range d.value {
			d.value[i] = byte(r.Uint32())
		}
		d.scan = make([][]byte, 1000)
		for i := range d.scan {
			d.scan[i] = fmt.Appendf(nil, "%s%012d", scanPrefix, i)
		}
		bench = d
	})
	return bench
}

// key returns the i-th key of the random sequence.
func (d *benchData) key(i int) []byte { return d.keys[d.seq[i&benchSeqMask]] }

// loadedKey returns a random preloaded key for the i-th read.
func (d *benchData) loadedKey(i int) []byte {
	return d.loaded[d.seq[i&benchSeqMask]%benchLoaded]
}

// reportOps reports throughput per op and, when perOp > 1, per key.
func reportOps(b *testing.B, perOp int) {
	secs := b.Elapsed().Seconds()
	if secs <= 0 {
		return
	}
	b.ReportMetric(float64(b.N)/secs, "ops/s")
	if perOp > 1 {
		b.ReportMetric(float64(b.N)*float64(perOp)/secs, "keys/s")
	}
}

// parallelStart hands every RunParallel goroutine its own place in the
// random key sequence.
func parallelStart(next *atomic.Int64) int {
	return int(next.Add(1)) * 104729
}

// openRawDB opens a plain RocksDB in a temp dir with options comparable to
// those of a shard's data column family: block cache and write buffer as in
// the vasto benchmarks, 10-bit bloom filter, 16 KiB blocks, index and filter
// blocks in the cache, LZ4, WAL on and no sync.
func openRawDB(b testing.TB) (*grocksdb.DB, func()) {
	b.Helper()
	cache := grocksdb.NewLRUCache(benchCacheBytes)
	bbto := grocksdb.NewDefaultBlockBasedTableOptions()
	bbto.SetBlockCache(cache)
	bbto.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))
	bbto.SetCacheIndexAndFilterBlocks(true)
	bbto.SetBlockSize(16 << 10)

	opts := grocksdb.NewDefaultOptions()
	opts.SetCreateIfMissing(true)
	opts.SetMaxBackgroundJobs(2)
	opts.SetMaxTotalWalSize(256 << 20)
	opts.SetKeepLogFileNum(3)
	opts.SetInfoLogLevel(grocksdb.WarnInfoLogLevel)
	opts.SetMaxOpenFiles(256)
	opts.SetBlockBasedTableFactory(bbto)
	opts.SetWriteBufferSize(benchBufferBytes)
	opts.SetMemtableWholeKeyFiltering(true)
	opts.SetCompression(grocksdb.LZ4Compression)
	opts.SetLevelCompactionDynamicLevelBytes(true)

	db, err := grocksdb.OpenDb(opts, b.TempDir())
	if err != nil {
		opts.Destroy()
		bbto.Destroy()
		cache.Destroy()
		b.Fatalf("open raw db: %v", err)
	}
	return db, func() {
		db.Close()
		opts.Destroy()
		bbto.Destroy()
		cache.Destroy()
	}
}

// benchShard opens a fresh engine with the benchmark config and returns its
// shard 0 of keyspace "ks". The engine is closed when b ends.
func benchShard(b testing.TB) *Shard {
	b.Helper()
	s, _ := testShard(b, func(c *Config) {
		c.Logger = hclog.NewNullLogger()
		c.BlockCacheBytes = benchCacheBytes
		c.WriteBufferBytes = benchBufferBytes
	})
	return s
}

// rawLoad writes keys with value in batches of 1000, then flushes and
// compacts so reads go through SST files and the block cache.
func rawLoad(b testing.TB, db *grocksdb.DB, keys [][]byte, value []byte) {
	b.Helper()
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for start := 0; start < len(keys); start += 1000 {
		wb.Clear()
		for _, k := range keys[start:min(start+1000, len(keys))] {
			wb.Put(k, value)
		}
		if err := db.Write(wo, wb); err != nil {
			b.Fatalf("raw load: %v", err)
		}
	}
	fo := flushOpts()
	defer fo.Destroy()
	if err := db.Flush(fo); err != nil {
		b.Fatalf("raw flush: %v", err)
	}
	db.CompactRange(grocksdb.Range{})
}

// vastoLoad is rawLoad for a shard.
func vastoLoad(b testing.TB, s *Shard, keys [][]byte, value []byte) {
	b.Helper()
	muts := make([]Mutation, 0, 1000)
	for start := 0; start < len(keys); start += 1000 {
		muts = muts[:0]
		for _, k := range keys[start:min(start+1000, len(keys))] {
			muts = append(muts, Mutation{Key: k, Value: value})
		}
		if _, err := s.Write(context.Background(), muts...); err != nil {
			b.Fatalf("vasto load: %v", err)
		}
	}
	if err := s.Compact(); err != nil {
		b.Fatalf("vasto compact: %v", err)
	}
}

func BenchmarkPut(b *testing.B) {
	d := getBenchData()
	ctx := context.Background()

	b.Run("raw-single", func(b *testing.B) {
		db, done := openRawDB(b)
		defer done()
		wo := grocksdb.NewDefaultWriteOptions()
		defer wo.Destroy()
		b.SetBytes(benchKeySize + benchValueSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := db.Put(wo, d.key(i), d.value); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, 1)
		b.StopTimer()
	})

	b.Run("vasto-single", func(b *testing.B) {
		s := benchShard(b)
		b.SetBytes(benchKeySize + benchValueSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Put(ctx, d.key(i), d.value); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, 1)
		b.StopTimer()
	})

	b.Run("raw-parallel", func(b *testing.B) {
		db, done := openRawDB(b)
		defer done()
		wo := grocksdb.NewDefaultWriteOptions()
		defer wo.Destroy()
		var next atomic.Int64
		b.SetBytes(benchKeySize + benchValueSize)
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := parallelStart(&next); pb.Next(); i++ {
				if err := db.Put(wo, d.key(i), d.value); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b, 1)
		b.StopTimer()
	})

	b.Run("vasto-parallel", func(b *testing.B) {
		s := benchShard(b)
		var next atomic.Int64
		b.SetBytes(benchKeySize + benchValueSize)
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := parallelStart(&next); pb.Next(); i++ {
				if _, err := s.Put(ctx, d.key(i), d.value); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b, 1)
		b.StopTimer()
	})
}

func BenchmarkBatchPut(b *testing.B) {
	const n = 100
	d := getBenchData()
	ctx := context.Background()

	b.Run("raw-100", func(b *testing.B) {
		db, done := openRawDB(b)
		defer done()
		wo := grocksdb.NewDefaultWriteOptions()
		defer wo.Destroy()
		wb := grocksdb.NewWriteBatch()
		defer wb.Destroy()
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			wb.Clear()
			for j := 0; j < n; j++ {
				wb.Put(d.key(i*n+j), d.value)
			}
			if err := db.Write(wo, wb); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, n)
		b.StopTimer()
	})

	b.Run("vasto-100", func(b *testing.B) {
		s := benchShard(b)
		muts := make([]Mutation, n)
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range muts {
				muts[j] = Mutation{Key: d.key(i*n + j), Value: d.value}
			}
			if _, err := s.Write(ctx, muts...); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, n)
		b.StopTimer()
	})
}

// readFixture is a raw DB and a shard holding the same preloaded keys; the
// read benchmarks share it across their sub-benchmarks.
type readFixture struct {
	d  *benchData
	db *grocksdb.DB
	s  *Shard
}

func newReadFixture(b *testing.B, keys [][]byte) *readFixture {
	b.Helper()
	d := getBenchData()
	db, done := openRawDB(b)
	b.Cleanup(done)
	rawLoad(b, db, keys, d.value)
	s := benchShard(b)
	vastoLoad(b, s, keys, d.value)
	return &readFixture{d: d, db: db, s: s}
}

// rawGet reads key the way Shard.GetRecord does: pinned, value copied out.
func rawGet(db *grocksdb.DB, ro *grocksdb.ReadOptions, key []byte) ([]byte, error) {
	h, err := db.GetPinned(ro, key)
	if err != nil {
		return nil, err
	}
	defer h.Destroy()
	if !h.Exists() {
		return nil, fmt.Errorf("key %q not found", key)
	}
	return bytes.Clone(h.Data()), nil
}

func BenchmarkGet(b *testing.B) {
	f := newReadFixture(b, getBenchData().loaded)
	d := f.d

	b.Run("raw", func(b *testing.B) {
		ro := grocksdb.NewDefaultReadOptions()
		defer ro.Destroy()
		b.SetBytes(benchKeySize + benchValueSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := rawGet(f.db, ro, d.loadedKey(i)); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, 1)
		b.StopTimer()
	})

	b.Run("vasto", func(b *testing.B) {
		b.SetBytes(benchKeySize + benchValueSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.s.Get(d.loadedKey(i)); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, 1)
		b.StopTimer()
	})

	// Reads are CPU-bound, so the parallel variants use RunParallel's
	// default of one goroutine per GOMAXPROCS.
	b.Run("raw-parallel", func(b *testing.B) {
		ro := grocksdb.NewDefaultReadOptions()
		defer ro.Destroy()
		var next atomic.Int64
		b.SetBytes(benchKeySize + benchValueSize)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := parallelStart(&next); pb.Next(); i++ {
				if _, err := rawGet(f.db, ro, d.loadedKey(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b, 1)
		b.StopTimer()
	})

	b.Run("vasto-parallel", func(b *testing.B) {
		var next atomic.Int64
		b.SetBytes(benchKeySize + benchValueSize)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := parallelStart(&next); pb.Next(); i++ {
				if _, err := f.s.Get(d.loadedKey(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b, 1)
		b.StopTimer()
	})
}

func BenchmarkMultiGet(b *testing.B) {
	const n = 100
	f := newReadFixture(b, getBenchData().loaded)
	d := f.d
	keys := make([][]byte, n)
	fill := func(i int) {
		for j := range keys {
			keys[j] = d.loadedKey(i*n + j)
		}
	}

	b.Run("raw-100", func(b *testing.B) {
		ro := grocksdb.NewDefaultReadOptions()
		defer ro.Destroy()
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fill(i)
			slices, err := f.db.MultiGet(ro, keys...)
			if err != nil {
				b.Fatal(err)
			}
			vals := make([][]byte, n)
			for j, sl := range slices {
				if !sl.Exists() {
					b.Fatalf("key %q not found", keys[j])
				}
				vals[j] = bytes.Clone(sl.Data())
			}
			slices.Destroy()
		}
		reportOps(b, n)
		b.StopTimer()
	})

	b.Run("vasto-100", func(b *testing.B) {
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fill(i)
			_, found, err := f.s.MultiGet(keys)
			if err != nil {
				b.Fatal(err)
			}
			for j, ok := range found {
				if !ok {
					b.Fatalf("key %q not found", keys[j])
				}
			}
		}
		reportOps(b, n)
		b.StopTimer()
	})
}

func BenchmarkScan(b *testing.B) {
	d := getBenchData()
	const n = 1000
	// The 1000 prefixed keys plus 10k random others, so the scan seeks
	// into a larger key space.
	keys := append(append([][]byte(nil), d.scan...), d.loaded[:10_000]...)
	f := newReadFixture(b, keys)
	prefix := []byte(scanPrefix)

	b.Run("raw-prefix-1000", func(b *testing.B) {
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			// Mirrors Shard.Scan: fresh read options with an upper bound,
			// no cache fill, keys and values copied out.
			ro := grocksdb.NewDefaultReadOptions()
			ro.SetFillCache(false)
			ro.SetIterateUpperBound(prefixEnd(prefix))
			it := f.db.NewIterator(ro)
			type kv struct{ k, v []byte }
			var items []kv
			for it.Seek(prefix); it.Valid() && len(items) < n; it.Next() {
				k, v := it.Key(), it.Value()
				items = append(items, kv{bytes.Clone(k.Data()), bytes.Clone(v.Data())})
				k.Free()
				v.Free()
			}
			err := it.Err()
			it.Close()
			ro.Destroy()
			if err != nil {
				b.Fatal(err)
			}
			if len(items) != n {
				b.Fatalf("scanned %d keys, want %d", len(items), n)
			}
		}
		reportOps(b, n)
		b.StopTimer()
	})

	b.Run("vasto-prefix-1000", func(b *testing.B) {
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := f.s.Scan(ScanOptions{Prefix: prefix, Limit: n})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Items) != n {
				b.Fatalf("scanned %d keys, want %d", len(res.Items), n)
			}
		}
		reportOps(b, n)
		b.StopTimer()
	})
}

// BenchmarkIngest copies pages of 10 000 records (16-byte keys, 100-byte
// values, versions from another DC) into a shard that starts empty, each
// page new keys after the previous page's: with Ingest (one SST file per
// page) and, for comparison, with ApplyRemote (one write batch per page, as
// a replica applies a peer's changes).
func BenchmarkIngest(b *testing.B) {
	d := getBenchData()
	const n = 10_000
	page := make([]lww.Change, n)
	keys := make([]byte, n*benchKeySize)
	fill := func(p int) {
		for j := range page {
			k := fmt.Appendf(keys[j*benchKeySize:j*benchKeySize], "ing%013d", p*n+j)
			page[j] = lww.Change{Key: k, Record: lww.Record{
				Version: lww.Version{Time: baseTime - int64(p*n+j), DC: "dc2", Node: "store2"},
				Kind:    lww.KindValue,
				Value:   d.value,
			}}
		}
	}
	run := func(b *testing.B, copyPage func(s *Shard) error) {
		s := benchShard(b)
		b.SetBytes(n * (benchKeySize + benchValueSize))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fill(i)
			b.StartTimer()
			if err := copyPage(s); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b, n)
		b.StopTimer()
	}

	b.Run("apply-10000", func(b *testing.B) {
		run(b, func(s *Shard) error {
			_, err := s.ApplyRemote(context.Background(), "bench", 1, page)
			return err
		})
	})

	b.Run("ingest-10000", func(b *testing.B) {
		run(b, func(s *Shard) error {
			res, err := s.Ingest(context.Background(), page)
			if err == nil && res.Written != n {
				err = fmt.Errorf("ingested %d records, want %d", res.Written, n)
			}
			return err
		})
	})
}
