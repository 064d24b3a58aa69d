package check

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasto-kv/vasto/lww"
)

func TestCheck(t *testing.T) {
	v1 := ver(100, "dc1", "s1")
	v2 := ver(200, "dc1", "s1")
	d2 := ver(200, "dc2", "s3")
	none := map[string]lww.Record{}
	tests := []struct {
		name  string
		ops   []Op
		final Final
		want  map[string]int // violation kind -> count; empty: must pass
		ids   []int64        // op ids of the first violation, if checked
	}{
		// Histories that must fail.
		{
			name:  "lost write: an applied put below the final version",
			ops:   []Op{put(1, "a", "v1", v1), put(2, "a", "v2", v2)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 0)})},
			want:  map[string]int{ViolationLost: 1},
			ids:   []int64{2},
		},
		{
			name:  "lost write: the key is absent with no delete or expiry to explain it",
			ops:   []Op{put(1, "a", "v1", v1)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
			want:  map[string]int{ViolationLost: 1},
			ids:   []int64{1},
		},
		{
			name:  "lost write: a delete absent, a put live before it is not enough",
			ops:   []Op{put(1, "a", "v1", v2), with(del(2, "a", v1), OutcomeUnknown)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
			want:  map[string]int{ViolationLost: 1},
			ids:   []int64{1},
		},
		{
			name:  "lost write: a rejected delete does not explain an absent key",
			ops:   []Op{put(1, "a", "v1", v1), with(del(2, "a", d2), OutcomeFail)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
			want:  map[string]int{ViolationLost: 1},
			ids:   []int64{1},
		},
		{
			name:  "lost write: a later TTL that has not expired does not explain an absent key",
			ops:   []Op{put(1, "a", "v1", v1), ttl(put(2, "a", "v2", v2), 5000)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
			want:  map[string]int{ViolationLost: 2},
			ids:   []int64{1},
		},
		{
			name:  "lost delete: an applied delete above a tombstone",
			ops:   []Op{del(1, "a", v1), del(2, "a", d2)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": tomb(v1)})},
			want:  map[string]int{ViolationLost: 1},
			ids:   []int64{2},
		},
		{
			name:  "phantom value",
			ops:   []Op{put(1, "a", "v1", v1)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "zz", 0)})},
			want:  map[string]int{ViolationPhantom: 1},
		},
		{
			name:  "phantom: the right value with the wrong event time",
			ops:   []Op{put(1, "a", "v1", v1)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "v1", 0)})},
			want:  map[string]int{ViolationPhantom: 1},
		},
		{
			name:  "resurrection: an applied delete under a live value",
			ops:   []Op{put(1, "a", "v1", v1), del(2, "a", d2)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 0)})},
			want:  map[string]int{ViolationResurrection: 1},
			ids:   []int64{2},
		},
		{
			name: "divergent replicas: two values",
			ops:  []Op{put(1, "a", "v1", v1), put(2, "a", "v2", v2)},
			final: Final{Now: 1000, Replicas: []Replica{
				rep("dc1", "s1", map[string]lww.Record{"a": value(v2, "v2", 0)}),
				rep("dc2", "s3", map[string]lww.Record{"a": value(v1, "v1", 0)}),
			}},
			want: map[string]int{ViolationDivergent: 1},
		},
		{
			name: "divergent replicas: a value missing on one",
			ops:  []Op{put(1, "a", "v1", v1)},
			final: Final{Now: 1000, Replicas: []Replica{
				rep("dc1", "s1", map[string]lww.Record{"a": value(v1, "v1", 0)}),
				rep("dc1", "s2", none),
			}},
			want: map[string]int{ViolationDivergent: 1},
		},
		{
			name: "divergent replicas: same version, different expiry",
			ops:  []Op{ttl(put(1, "a", "v1", v1), 5000)},
			final: Final{Now: 1000, Replicas: []Replica{
				rep("dc1", "s1", map[string]lww.Record{"a": value(v1, "v1", 5000)}),
				rep("dc2", "s3", map[string]lww.Record{"a": value(v1, "v1", 0)}),
			}},
			want: map[string]int{ViolationDivergent: 1},
		},
		{
			name: "version going backwards on one replica",
			ops: []Op{
				put(1, "a", "v1", v1), put(2, "a", "v2", v2),
				get(3, "dc1/s1", "a", 300, 310, v2, "v2"),
				get(4, "dc1/s1", "a", 320, 330, v1, "v1"),
			},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "v2", 0)})},
			want:  map[string]int{ViolationBackwards: 1},
			ids:   []int64{3, 4},
		},
		{
			name:  "value visible from a failed write",
			ops:   []Op{put(1, "a", "v1", v1), with(put(2, "a", "v2", v2), OutcomeFail)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "v2", 0)})},
			want:  map[string]int{ViolationFailedWriteVisible: 1},
			ids:   []int64{2},
		},
		{
			name: "unexpired TTL: a final read returns an expired value",
			ops:  []Op{ttl(put(1, "a", "v1", v1), 500)},
			final: Final{Now: 1000,
				Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 500)}),
				Reads: []FinalRead{
					{DC: "dc1", Keyspace: ks, Key: "a", Found: true, Value: "v1"},
					{DC: "dc2", Keyspace: ks, Key: "a"},
				}},
			want: map[string]int{ViolationNotExpired: 1},
		},

		// Histories that must pass.
		{
			name: "concurrent writes with equal event times from two DCs",
			ops: []Op{
				put(1, "a", "a1", ver(100, "dc1", "s1")),
				put(2, "a", "a2", ver(100, "dc2", "s3")),
				get(3, "dc1/s1", "a", 110, 120, ver(100, "dc1", "s1"), "a1"),
				get(4, "dc1/s1", "a", 130, 140, ver(100, "dc2", "s3"), "a2"),
				get(5, "dc2/s3", "a", 110, 120, ver(100, "dc2", "s3"), "a2"),
			},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(ver(100, "dc2", "s3"), "a2", 0)}),
				Reads: []FinalRead{{DC: "dc1", Keyspace: ks, Key: "a", Found: true, Value: "a2"}}},
		},
		{
			name: "equal event times, a put and a delete: the delete's DC wins",
			ops: []Op{
				put(1, "a", "a1", ver(100, "dc1", "s1")),
				del(2, "a", ver(100, "dc2", "s3")),
			},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": tomb(ver(100, "dc2", "s3"))})},
		},
		{
			name:  "an unknown write that landed",
			ops:   []Op{put(1, "a", "v1", v1), with(put(2, "a", "u", v2), OutcomeUnknown)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "u", 0)})},
		},
		{
			name:  "an unknown write that did not land",
			ops:   []Op{put(1, "a", "v1", v1), with(put(2, "a", "u", v2), OutcomeUnknown)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 0)})},
		},
		{
			name:  "an unknown delete that landed and was purged",
			ops:   []Op{put(1, "a", "v1", v1), with(del(2, "a", v2), OutcomeUnknown)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
		},
		{
			name:  "a put superseded by a delete whose tombstone was purged everywhere",
			ops:   []Op{put(1, "a", "v1", v1), del(2, "a", d2)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
		},
		{
			name: "a put superseded by a delete whose tombstone was purged on some replicas",
			ops:  []Op{put(1, "a", "v1", v1), del(2, "a", d2)},
			final: Final{Now: 1000, Replicas: []Replica{
				rep("dc1", "s1", map[string]lww.Record{"a": tomb(d2)}),
				rep("dc1", "s2", none),
				rep("dc2", "s3", map[string]lww.Record{"a": tomb(d2)}),
			}},
		},
		{
			name: "a TTL that expired: dropped, buried or still held",
			ops:  []Op{put(1, "a", "v0", ver(50, "dc1", "s1")), ttl(put(2, "a", "v1", v1), 500)},
			final: Final{Now: 1000, Replicas: []Replica{
				rep("dc1", "s1", none),
				rep("dc1", "s2", map[string]lww.Record{"a": value(v1, "v1", 500).Buried()}),
				rep("dc2", "s3", map[string]lww.Record{"a": value(v1, "v1", 500)}),
			}, Reads: []FinalRead{{DC: "dc1", Keyspace: ks, Key: "a"}, {DC: "dc2", Keyspace: ks, Key: "a"}}},
		},
		{
			name:  "a TTL that expired and was dropped everywhere",
			ops:   []Op{put(1, "a", "v0", ver(50, "dc1", "s1")), ttl(put(2, "a", "v1", v1), 500)},
			final: Final{Now: 1000, Replicas: everywhere(none)},
		},
		{
			name: "a TTL that has not expired yet is served",
			ops:  []Op{ttl(put(1, "a", "v1", v1), 5000)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 5000)}),
				Reads: []FinalRead{{DC: "dc1", Keyspace: ks, Key: "a", Found: true, Value: "v1"}}},
		},
		{
			name: "writes that were not applied",
			ops: func() []Op {
				late := put(2, "a", "old", ver(50, "dc2", "s3"))
				late.Applied, late.Version = false, v2
				lateDel := del(3, "a", ver(60, "dc2", "s3"))
				lateDel.Applied, lateDel.Version = false, v2
				return []Op{put(1, "a", "v2", v2), late, lateDel}
			}(),
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "v2", 0)})},
		},
		{
			name: "a retried put that landed on two stores",
			ops: []Op{
				with(put(1, "a", "r", ver(100, "dc1", "s1")), OutcomeUnknown),
				put(2, "a", "r", ver(100, "dc1", "s2")),
			},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(ver(100, "dc1", "s2"), "r", 0)})},
		},
		{
			name: "overlapping reads may see versions in any order",
			ops: []Op{
				put(1, "a", "v1", v1), put(2, "a", "v2", v2),
				get(3, "dc1/s1", "a", 300, 330, v2, "v2"),
				get(4, "dc1/s1", "a", 310, 340, v1, "v1"),
				get(5, "dc1/s2", "a", 350, 360, v1, "v1"),
			},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v2, "v2", 0)})},
		},
		{
			name:  "a failed put that did not land",
			ops:   []Op{put(1, "a", "v1", v1), with(put(2, "a", "v2", v2), OutcomeFail)},
			final: Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 0)})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(tt.ops, tt.final)
			want := tt.want
			if want == nil {
				want = map[string]int{}
			}
			require.Equal(t, want, res.Counts(), "violations: %v", res.Violations)
			require.Equal(t, len(want) == 0, res.OK())
			if tt.ids != nil {
				require.Equal(t, tt.ids, res.Violations[0].OpIDs)
			}
			for _, v := range res.Violations {
				require.NotEmpty(t, v.Detail)
				require.Equal(t, "a", v.Key)
				require.Equal(t, ks, v.Keyspace)
			}
		})
	}
}

func TestCheckDivergentNamesReplicas(t *testing.T) {
	v1 := ver(100, "dc1", "s1")
	v2 := ver(200, "dc2", "s3")
	res := Check([]Op{put(1, "a", "v1", v1), put(2, "a", "v2", v2)}, Final{Now: 1000, Replicas: []Replica{
		rep("dc1", "s1", map[string]lww.Record{"a": value(v2, "v2", 0)}),
		rep("dc1", "s2", map[string]lww.Record{"a": value(v1, "v1", 0)}),
		rep("dc2", "s3", map[string]lww.Record{"a": value(v2, "v2", 0)}),
	}})
	require.Len(t, res.Violations, 1)
	v := res.Violations[0]
	require.Equal(t, ViolationDivergent, v.Kind)
	require.Equal(t, []string{"dc1/s2"}, v.Replicas)
	require.Contains(t, v.Detail, v1.String())
	require.Contains(t, v.Detail, `"v2"`)
	require.Equal(t, 1, res.Stats.DigestGroups)
	require.Len(t, res.Stats.DigestMismatches, 1)
	require.Contains(t, res.Summary(), "divergent=1")
}

func TestCheckRoutesByShard(t *testing.T) {
	// Four shards in dc1, one in dc2: each key is checked on its own shard's
	// replicas only, and a record on the wrong shard is stray, not checked.
	v1 := ver(100, "dc1", "s1")
	var ops []Op
	var dc1 []Replica
	for s := range 4 {
		dc1 = append(dc1, Replica{DC: "dc1", Store: "s" + string(rune('0'+s)), Keyspace: ks, Shard: uint32(s), Shards: 4, Records: map[string]lww.Record{}})
	}
	all := map[string]lww.Record{}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for i, k := range keys {
		ops = append(ops, put(int64(i+1), k, "v-"+k, v1))
		r := value(v1, "v-"+k, 0)
		all[k] = r
		dc1[shardOf(k, 4)].Records[k] = r
	}
	stray := (shardOf("a", 4) + 1) % 4
	dc1[stray].Records["a"] = value(ver(999, "dc9", "x"), "junk", 0)
	final := Final{Now: 1000, Replicas: append(dc1, Replica{DC: "dc2", Store: "t1", Keyspace: ks, Shards: 1, Records: all})}
	res := Check(ops, final)
	require.True(t, res.OK(), "%v", res.Violations)
	require.Equal(t, 1, res.Stats.Stray)
	require.Equal(t, len(keys), res.Stats.Keys)
	require.Equal(t, 2*len(keys), res.Stats.Records)

	// Dropping a key from its dc1 shard is divergence against dc2.
	delete(dc1[shardOf("b", 4)].Records, "b")
	res = Check(ops, final)
	require.Equal(t, map[string]int{ViolationDivergent: 1}, res.Counts())
	require.Equal(t, []string{dc1[shardOf("b", 4)].Name()}, res.Violations[0].Replicas)
}

func TestCheckStatsAndSummary(t *testing.T) {
	v1 := ver(100, "dc1", "s1")
	ops := []Op{
		put(1, "a", "v1", v1),
		with(put(2, "a", "x", ver(150, "dc1", "s1")), OutcomeFail),
		with(del(3, "a", ver(160, "dc1", "s1")), OutcomeUnknown),
		get(4, "dc1/s1", "a", 10, 20, v1, "v1"),
	}
	res := Check(ops, Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{"a": value(v1, "v1", 0)})})
	require.True(t, res.OK(), "%v", res.Violations)
	require.Equal(t, map[Kind]map[Outcome]int{
		KindPut:    {OutcomeOK: 1, OutcomeFail: 1},
		KindDelete: {OutcomeUnknown: 1},
		KindGet:    {OutcomeOK: 1},
	}, res.Stats.Ops)
	require.Equal(t, 4, res.Stats.Replicas)
	require.Equal(t, 1, res.Stats.Keys)
	require.Equal(t, 2, res.Stats.DigestGroups)
	require.Empty(t, res.Stats.DigestMismatches)
	require.Equal(t, "4 ops, 1 keys, 4 replicas, 4 records, 0/2 shard digests differ: ok", res.Summary())
	require.Equal(t, res.Summary(), res.String())

	bad := Check([]Op{put(1, "a", "v1", v1), put(2, "b", "v2", v1)}, Final{Now: 1000, Replicas: everywhere(map[string]lww.Record{
		"a": value(v1, "zz", 0),
	})})
	require.False(t, bad.OK())
	s := bad.Summary()
	require.True(t, strings.HasSuffix(s, ": 2 violations lost=1 phantom=1"), s)
}

func TestDigest(t *testing.T) {
	v1 := ver(100, "dc1", "s1")
	base := map[string]lww.Record{"a": value(v1, "x", 0), "b": tomb(v1), "c": value(v1, "y", 500)}
	d := Digest(base)
	for range 20 {
		cp := map[string]lww.Record{}
		for k, r := range base {
			cp[k] = r
		}
		require.Equal(t, d, Digest(cp))
	}
	changes := []func(m map[string]lww.Record){
		func(m map[string]lww.Record) { m["a"] = value(v1, "z", 0) },
		func(m map[string]lww.Record) { m["a"] = value(ver(101, "dc1", "s1"), "x", 0) },
		func(m map[string]lww.Record) { m["a"] = value(ver(100, "dc2", "s1"), "x", 0) },
		func(m map[string]lww.Record) { m["a"] = value(ver(100, "dc1", "s2"), "x", 0) },
		func(m map[string]lww.Record) { m["a"] = value(v1, "x", 900) },
		func(m map[string]lww.Record) { m["b"] = lww.Record{Version: v1, Kind: lww.KindValue} },
		func(m map[string]lww.Record) { delete(m, "b") },
		func(m map[string]lww.Record) { m["d"] = tomb(v1) },
		func(m map[string]lww.Record) { m["a"], m["b"] = m["b"], m["a"] },
	}
	for i, change := range changes {
		cp := map[string]lww.Record{}
		for k, r := range base {
			cp[k] = r
		}
		change(cp)
		require.NotEqual(t, d, Digest(cp), "change %d", i)
	}
	require.NotEqual(t, Digest(map[string]lww.Record{"ab": value(v1, "c", 0)}), Digest(map[string]lww.Record{"a": value(v1, "bc", 0)}))
}
