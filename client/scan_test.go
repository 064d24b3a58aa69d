package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeShards is an in-memory pager: sorted keys per shard, pages of at most
// min(limit, pageMax) entries; it counts the pages served.
type fakeShards struct {
	mu      sync.Mutex
	keys    map[uint32][]string
	pageMax int
	pages   map[uint32]int
	limits  []int
	fail    map[uint32]error
	// empty makes a shard answer this many empty pages (a range of
	// tombstones) before the real ones.
	empty map[uint32]int
}

func (f *fakeShards) fetch(_ context.Context, shard uint32, start []byte, limit int) ([]Item, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pages == nil {
		f.pages = map[uint32]int{}
	}
	f.pages[shard]++
	f.limits = append(f.limits, limit)
	if err := f.fail[shard]; err != nil {
		return nil, nil, err
	}
	if limit <= 0 {
		return nil, nil, errors.New("bad limit")
	}
	ks := f.keys[shard]
	i := sort.SearchStrings(ks, string(start))
	if f.empty[shard] > 0 {
		// A page that stepped over dead keys only: it advances the start
		// (past "\x00" keys, which the tests do not use) and has no items.
		f.empty[shard]--
		return nil, append(append([]byte(nil), start...), 0), nil
	}
	n := limit
	if f.pageMax > 0 {
		n = min(n, f.pageMax)
	}
	var out []Item
	for ; i < len(ks) && len(out) < n; i++ {
		out = append(out, Item{Key: []byte(ks[i]), Value: []byte(fmt.Sprint(shard)), Version: Version{Time: int64(shard)}})
	}
	var next []byte
	if i < len(ks) {
		next = []byte(ks[i])
	}
	return out, next, nil
}

func collect(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.Key)
	}
	return out
}

func TestMergeScanKWayWithLimits(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	f := &fakeShards{keys: map[uint32][]string{}, pageMax: 7}
	var all []string
	for i := 0; i < 500; i++ {
		k := fmt.Sprintf("k%05d", rng.Intn(100000))
		if sort.SearchStrings(all, k) < len(all) && all[sort.SearchStrings(all, k)] == k {
			continue
		}
		all = append(all, k)
		sort.Strings(all)
		s := uint32(rng.Intn(5))
		f.keys[s] = append(f.keys[s], k)
	}
	for s := range f.keys {
		sort.Strings(f.keys[s])
	}
	shards := []uint32{0, 1, 2, 3, 4}
	ctx := context.Background()

	for _, limit := range []int{1, 2, 6, 7, 8, 50, 499, len(all), len(all) + 1, 10000} {
		got, err := mergeScan(ctx, shards, nil, limit, f.fetch)
		require.NoError(t, err)
		want := all
		if limit < len(want) {
			want = want[:limit]
		}
		require.Equal(t, want, collect(got), "limit %d", limit)
	}

	// From a start key.
	start := []byte(all[100])
	got, err := mergeScan(ctx, shards, start, 10, f.fetch)
	require.NoError(t, err)
	require.Equal(t, all[100:110], collect(got))

	// Nothing asked, nothing there.
	got, err = mergeScan(ctx, shards, nil, 0, f.fetch)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = mergeScan(ctx, nil, nil, 10, f.fetch)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestMergeScanFetchesOnlyNeededPages(t *testing.T) {
	f := &fakeShards{keys: map[uint32][]string{
		0: {"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"},
		1: {"b0", "b1", "b2", "b3"},
		2: {"c0"},
	}}
	got, err := mergeScan(context.Background(), []uint32{0, 1, 2}, nil, 3, f.fetch)
	require.NoError(t, err)
	require.Equal(t, []string{"a0", "a1", "a2"}, collect(got))
	// Every shard is asked once, for at most the limit.
	require.Equal(t, map[uint32]int{0: 1, 1: 1, 2: 1}, f.pages)
	require.Equal(t, []int{3, 3, 3}, f.limits)

	// Later pages ask only for what is still missing.
	f = &fakeShards{keys: f.keys, pageMax: 2}
	got, err = mergeScan(context.Background(), []uint32{0, 1, 2}, nil, 5, f.fetch)
	require.NoError(t, err)
	require.Equal(t, []string{"a0", "a1", "a2", "a3", "a4"}, collect(got))
	for _, l := range f.limits {
		require.LessOrEqual(t, l, 5)
	}
	require.Equal(t, 1, f.pages[1], "shard 1 never reached the end of its first page")
	require.Equal(t, 3, f.pages[0])

	// Huge limits are paged by scanPageSize.
	f = &fakeShards{keys: f.keys}
	_, err = mergeScan(context.Background(), []uint32{0}, nil, 1<<30, f.fetch)
	require.NoError(t, err)
	require.Equal(t, []int{scanPageSize}, f.limits)
}

func TestMergeScanSkipsEmptyPagesAndDedupes(t *testing.T) {
	f := &fakeShards{
		keys:  map[uint32][]string{0: {"a", "c", "e"}, 1: {"b", "c", "d"}},
		empty: map[uint32]int{0: 3},
	}
	got, err := mergeScan(context.Background(), []uint32{0, 1}, nil, 10, f.fetch)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, collect(got))
	// The duplicate "c" keeps the greater version (shard 1's).
	for _, it := range got {
		if bytes.Equal(it.Key, []byte("c")) {
			require.Equal(t, int64(1), it.Version.Time)
		}
	}
}

func TestMergeScanErrors(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeShards{keys: map[uint32][]string{0: {"a"}, 1: {"b"}}, fail: map[uint32]error{1: boom}}
	_, err := mergeScan(context.Background(), []uint32{0, 1}, nil, 10, f.fetch)
	require.ErrorIs(t, err, boom)

	// A shard whose next page does not advance is an error, not a loop.
	stuck := func(_ context.Context, _ uint32, _ []byte, _ int) ([]Item, []byte, error) {
		return nil, []byte("x"), nil
	}
	_, err = mergeScan(context.Background(), []uint32{0}, nil, 10, stuck)
	require.ErrorContains(t, err, "does not advance")
}

func TestParseScanValues(t *testing.T) {
	items, next, err := parseScanValues([]any{"k3", []any{"k1", "v1", int64(5), "dc1", "s1", "k2", "", int64(6), "dc2", "s2"}})
	require.NoError(t, err)
	require.Equal(t, []byte("k3"), next)
	require.Equal(t, []Item{
		{Key: []byte("k1"), Value: []byte("v1"), Version: Version{Time: 5, DC: "dc1", Node: "s1"}},
		{Key: []byte("k2"), Value: []byte(""), Version: Version{Time: 6, DC: "dc2", Node: "s2"}},
	}, items)

	items, next, err = parseScanValues([]any{nil, []any{}})
	require.NoError(t, err)
	require.Nil(t, next)
	require.Empty(t, items)

	for _, bad := range [][]any{
		{nil},
		{nil, []any{"k", "v"}},
		{nil, []any{"k", "v", "x", "dc", "n"}},
		{int64(1), []any{}},
		{nil, "x"},
	} {
		_, _, err = parseScanValues(bad)
		require.ErrorIs(t, err, errReply, "%v", bad)
	}
}

func TestParseWriteAndGetValues(t *testing.T) {
	r, err := parseWriteValues([]any{int64(1), int64(10), "dc1", "s1", int64(99)})
	require.NoError(t, err)
	require.Equal(t, WriteResult{Applied: true, Version: Version{Time: 10, DC: "dc1", Node: "s1"}, LogIndex: 99, Ack: AckLocal}, r)
	r, err = parseWriteValues([]any{int64(1), int64(10), "dc1", "s1", int64(99), "published"})
	require.NoError(t, err)
	require.Equal(t, AckPublished, r.Ack)
	_, err = parseWriteValues([]any{int64(1), int64(10), "dc1", "s1", int64(99), "everywhere"})
	require.ErrorIs(t, err, errReply)
	_, err = parseWriteValues([]any{int64(1)})
	require.ErrorIs(t, err, errReply)
	_, err = parseWriteValues([]any{"1", int64(10), "dc1", "s1", int64(99)})
	require.ErrorIs(t, err, errReply)

	it, err := parseGetValues([]any{"v", int64(10), "dc1", "s1", int64(20)})
	require.NoError(t, err)
	require.Equal(t, &Item{Value: []byte("v"), Version: Version{Time: 10, DC: "dc1", Node: "s1"}, ExpiresAt: 20}, it)
	it, err = parseGetValues(nil)
	require.NoError(t, err)
	require.Nil(t, it)
	_, err = parseGetValues([]any{"v"})
	require.ErrorIs(t, err, errReply)
}
