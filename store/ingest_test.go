package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/lww"
)

// requireNoIngestFiles fails if an Ingest left a temporary file behind.
func requireNoIngestFiles(t *testing.T, s *Shard) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(s.Dir(), ingestFilePrefix+"*"))
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestIngestKeepsTheWinner(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	equal := rec(baseTime-50, "dc2", "store2", "same")
	_, err := s.ApplyRemote(ctx, "peer", 1, []lww.Change{
		{Key: []byte("b"), Record: rec(baseTime-10, "dc1", "store1", "newer")},
		{Key: []byte("c"), Record: rec(baseTime-90, "dc1", "store1", "older")},
		{Key: []byte("d"), Record: equal},
		{Key: []byte("f"), Record: tomb(baseTime-10, "dc1", "store1")},
		{Key: []byte("g"), Record: tomb(baseTime-90, "dc1", "store1")},
	})
	require.NoError(t, err)
	first, last := s.LogBounds()

	page := []lww.Change{
		{Key: []byte("a"), Record: rec(baseTime-50, "dc2", "store2", "new key")},
		{Key: []byte("b"), Record: rec(baseTime-50, "dc2", "store2", "loses")},
		{Key: []byte("c"), Record: rec(baseTime-50, "dc2", "store2", "wins")},
		{Key: []byte("d"), Record: equal},
		{Key: []byte("e"), Record: tomb(baseTime-50, "dc2", "store2")},
		{Key: []byte("f"), Record: rec(baseTime-50, "dc2", "store2", "under a newer tombstone")},
		{Key: []byte("g"), Record: rec(baseTime-50, "dc2", "store2", "over an older tombstone")},
	}
	res, err := s.Ingest(ctx, page)
	require.NoError(t, err)
	require.Equal(t, 4, res.Written)
	require.Equal(t, 3, res.Skipped)
	var size int64
	for _, i := range []int{0, 2, 4, 6} {
		enc, err := lww.AppendRecord(nil, page[i].Record)
		require.NoError(t, err)
		size += int64(len(page[i].Key) + len(enc))
	}
	require.Equal(t, size, res.Bytes)

	want := map[string]lww.Record{
		"a": page[0].Record,
		"b": rec(baseTime-10, "dc1", "store1", "newer"),
		"c": page[2].Record,
		"d": equal,
		"e": page[4].Record,
		"f": tomb(baseTime-10, "dc1", "store1"),
		"g": page[6].Record,
	}
	for k, w := range want {
		got, ok, err := s.GetRecord([]byte(k))
		require.NoError(t, err)
		require.True(t, ok, k)
		require.Zero(t, lww.Compare(w, got), "key %s: want %v, got %v", k, w, got)
	}
	f, l := s.LogBounds()
	require.Equal(t, first, f, "ingest does not touch the change log")
	require.Equal(t, last, l)
	cur, err := s.Cursor("peer")
	require.NoError(t, err)
	require.Equal(t, uint64(1), cur, "ingest moves no cursor")
	requireNoIngestFiles(t, s)

	// All skipped: nothing to ingest.
	res, err = s.Ingest(ctx, page[1:2])
	require.NoError(t, err)
	require.Equal(t, IngestResult{Skipped: 1}, res)
	res, err = s.Ingest(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, IngestResult{}, res)
	requireNoIngestFiles(t, s)

	// A local write after an ingest orders after the ingested versions.
	late := []lww.Change{{Key: []byte("h"), Record: rec(baseTime+int64(1e9), "dc2", "store2", "ahead")}}
	_, err = s.Ingest(ctx, late)
	require.NoError(t, err)
	r, err := s.Put(ctx, []byte("h"), []byte("local"))
	require.NoError(t, err)
	require.True(t, r.Applied, "the clock observed the ingested event time")
}

func TestIngestRejectsBadPages(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	v := rec(baseTime, "dc2", "store2", "v")
	for name, page := range map[string][]lww.Change{
		"unsorted":  {{Key: []byte("b"), Record: v}, {Key: []byte("a"), Record: v}},
		"duplicate": {{Key: []byte("a"), Record: v}, {Key: []byte("a"), Record: v}},
	} {
		_, err := s.Ingest(ctx, page)
		require.ErrorIs(t, err, ErrBadPage, name)
	}
	_, err := s.Ingest(ctx, []lww.Change{{Key: nil, Record: v}})
	require.ErrorIs(t, err, ErrKeyTooLarge)
	_, err = s.Ingest(ctx, []lww.Change{{Key: []byte("a"), Record: lww.Record{Kind: lww.KindValue}}})
	require.ErrorIs(t, err, lww.ErrEventTimeNotPositive)
	res, err := s.Scan(ScanOptions{Limit: 10, IncludeDead: true})
	require.NoError(t, err)
	require.Empty(t, res.Items, "a rejected page writes nothing")
}

// TestIngestMatchesModel ingests random pages over random stored records,
// the page sparse or dense among the stored keys, and checks every key
// holds the winner of the two.
func TestIngestMatchesModel(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	model := map[string]lww.Record{}
	randRec := func() lww.Record {
		tm := baseTime - int64(r.IntN(20))
		if r.IntN(5) == 0 {
			return tomb(tm, "dc1", "store"+fmt.Sprint(r.IntN(2)))
		}
		return rec(tm, "dc1", "store"+fmt.Sprint(r.IntN(2)), fmt.Sprint(r.IntN(3)))
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%06d", i)) }
	var stored []lww.Change
	for i := 0; i < 3000; i++ {
		if r.IntN(3) > 0 {
			stored = append(stored, lww.Change{Key: key(i), Record: randRec()})
		}
	}
	for i := 0; i < len(stored); i += 1000 {
		_, err := s.ApplyRemote(ctx, "peer", 1, stored[i:min(i+1000, len(stored))])
		require.NoError(t, err)
	}
	for _, ch := range stored {
		model[string(ch.Key)] = ch.Record
	}
	require.NoError(t, s.Compact()) // some stored records in SST files, some in the memtable
	for round := 0; round < 20; round++ {
		if round == 10 {
			_, err := s.ApplyRemote(ctx, "peer", 2, []lww.Change{{Key: key(5), Record: randRec()}})
			require.NoError(t, err)
			cur, _, _ := s.GetRecord(key(5))
			model[string(key(5))] = cur
		}
		stride := 1 + r.IntN(40) // 1: dense; up to 40: long runs of stored keys between page keys
		lo := r.IntN(3000)
		var page []lww.Change
		for i := lo; i < 3000 && len(page) < 200; i += 1 + r.IntN(stride) {
			page = append(page, lww.Change{Key: key(i), Record: randRec()})
		}
		written, skipped := 0, 0
		for _, ch := range page {
			cur, ok := model[string(ch.Key)]
			if !ok || lww.Wins(ch.Record, cur) {
				model[string(ch.Key)] = ch.Record
				written++
			} else {
				skipped++
			}
		}
		res, err := s.Ingest(ctx, page)
		require.NoError(t, err)
		require.Equal(t, written, res.Written, "round %d", round)
		require.Equal(t, skipped, res.Skipped, "round %d", round)
	}
	requireShardHolds(t, s, model)
	requireNoIngestFiles(t, s)
}

// requireShardHolds checks that the shard holds exactly the model's records.
func requireShardHolds(t *testing.T, s *Shard, model map[string]lww.Record) {
	t.Helper()
	var keys []string
	for k := range model {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var start []byte
	i := 0
	for {
		res, err := s.Scan(ScanOptions{Start: start, Limit: 1000, IncludeDead: true})
		require.NoError(t, err)
		for _, it := range res.Items {
			require.Less(t, i, len(keys), "extra key %q", it.Key)
			require.Equal(t, keys[i], string(it.Key))
			require.Zero(t, lww.Compare(model[keys[i]], it.Record), "key %s: want %v, got %v", keys[i], model[keys[i]], it.Record)
			i++
		}
		if res.Next == nil {
			break
		}
		start = res.Next
	}
	require.Equal(t, len(keys), i)
}

// TestIngestConcurrentWithPut ingests pages of keys that writers Put at the
// same time: every key ends with the winner of all its versions.
func TestIngestConcurrentWithPut(t *testing.T) {
	s, _ := testShard(t, nil)
	ctx := context.Background()
	const n = 2000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key%05d", i)) }
	r := rand.New(rand.NewPCG(3, 4))
	page := make([]lww.Change, n)
	for i := range page {
		// Around the writers' clock: some ingested versions win, some lose.
		tm := baseTime + int64(r.IntN(2000)) - 1000
		page[i] = lww.Change{Key: key(i), Record: rec(tm, "dc2", "store9", "ingested")}
	}
	const writers, passes = 4, 3
	puts := make([][]lww.Change, writers)
	var (
		wg      sync.WaitGroup
		total   atomic.Int64
		started = make(chan struct{})
		once    sync.Once
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for pass := 0; pass < passes; pass++ {
				for i := w; i < n; i += writers {
					v := []byte(fmt.Sprintf("put%d.%d", w, pass))
					res, err := s.Put(ctx, key(i), v)
					if err != nil {
						t.Error(err)
						return
					}
					puts[w] = append(puts[w], lww.Change{Key: key(i), Record: lww.Record{Version: res.Written, Kind: lww.KindValue, Value: v}})
					if total.Add(1) == 300 {
						once.Do(func() { close(started) })
					}
				}
			}
		}(w)
	}
	<-started
	written := 0
	for _, p := range r.Perm(n / 100) {
		res, err := s.Ingest(ctx, page[p*100:p*100+100])
		require.NoError(t, err)
		written += res.Written
	}
	wg.Wait()
	t.Logf("ingested %d of %d records while %d puts of the same keys ran", written, n, total.Load())

	model := map[string]lww.Record{}
	for _, ch := range page {
		model[string(ch.Key)] = ch.Record
	}
	for _, ps := range puts {
		for _, ch := range ps {
			model[string(ch.Key)] = lww.Merge(model[string(ch.Key)], ch.Record)
		}
	}
	requireShardHolds(t, s, model)
	requireNoIngestFiles(t, s)
}

func TestIngestLeftoversRemovedOnOpen(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	cfg.Logger = testLogger(t)
	e, err := Open(cfg)
	require.NoError(t, err)
	s, err := e.EnsureShard("ks", 0)
	require.NoError(t, err)
	left := filepath.Join(s.Dir(), ingestFilePrefix+"7.sst")
	require.NoError(t, e.Close())
	require.NoError(t, os.WriteFile(left, []byte("partial"), 0o644))

	e, err = Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	s, err = e.EnsureShard("ks", 0)
	require.NoError(t, err)
	_, err = os.Stat(left)
	require.ErrorIs(t, err, os.ErrNotExist)
	res, err := s.Ingest(context.Background(), []lww.Change{{Key: []byte("k"), Record: rec(baseTime, "dc2", "s", "v")}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Written)
}
