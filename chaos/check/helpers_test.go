package check

import (
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

const ks = "ks"

func ver(t int64, dc, node string) lww.Version { return lww.Version{Time: t, DC: dc, Node: node} }

func value(v lww.Version, val string, exp int64) lww.Record {
	return lww.Record{Version: v, Kind: lww.KindValue, Value: []byte(val), ExpiresAt: exp}
}

func tomb(v lww.Version) lww.Record { return lww.Record{Version: v, Kind: lww.KindTombstone} }

// put is an ok put that won: Applied, with its own version.
func put(id int64, key, val string, v lww.Version) Op {
	return Op{ID: id, Client: v.DC + "/w1", DC: v.DC, Kind: KindPut, Keyspace: ks, Key: key, Value: val,
		EventTime: v.Time, Invoke: v.Time, Complete: v.Time + 1, Outcome: OutcomeOK, Applied: true, Version: v}
}

// del is an ok delete that won.
func del(id int64, key string, v lww.Version) Op {
	return Op{ID: id, Client: v.DC + "/w1", DC: v.DC, Kind: KindDelete, Keyspace: ks, Key: key,
		EventTime: v.Time, Invoke: v.Time, Complete: v.Time + 1, Outcome: OutcomeOK, Applied: true, Version: v}
}

// with returns op with the outcome set; a write that is not ok carries no
// Applied or Version.
func with(op Op, o Outcome) Op {
	op.Outcome = o
	if o != OutcomeOK {
		op.Applied = false
		op.Version = lww.Version{}
		op.Error = "timeout"
	}
	return op
}

func ttl(op Op, exp int64) Op { op.ExpiresAt = exp; return op }

// get is an ok sampled read from replica.
func get(id int64, replica, key string, invoke, complete int64, v lww.Version, val string) Op {
	return Op{ID: id, Client: "dc1/r1", DC: "dc1", Kind: KindGet, Keyspace: ks, Key: key, Value: val,
		Invoke: invoke, Complete: complete, Outcome: OutcomeOK, Found: true, Version: v, Replica: replica}
}

// rep is a replica of a one-shard keyspace.
func rep(dc, store string, recs map[string]lww.Record) Replica {
	return Replica{DC: dc, Store: store, Keyspace: ks, Shard: 0, Shards: 1, Records: recs}
}

// everywhere is the same records on two stores in each of two DCs.
func everywhere(recs map[string]lww.Record) []Replica {
	return []Replica{rep("dc1", "s1", recs), rep("dc1", "s2", recs), rep("dc2", "s3", recs), rep("dc2", "s4", recs)}
}

func shardOf(key string, n int) uint32 { return topology.ShardOf([]byte(key), n) }
