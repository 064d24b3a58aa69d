package check

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasto-kv/vasto/lww"
)

// drill is a history and final state of a correct store, simulated: writes
// land (ok always, unknown sometimes, fail never) on one LWW state per key,
// reads see that state, and the final replicas hold it, with tombstones
// purged and expired values buried or dropped at random on each replica.
type drill struct {
	ops   []Op
	final Final
	state map[string]lww.Record
}

func simulate(seed uint64) drill {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	stores := map[string][]string{"dc1": {"s1", "s2", "s3", "s4"}, "dc2": {"t1", "t2"}}
	dcs := []string{"dc1", "dc2"}
	keys := []string{"a", "b", "c", "d"}
	var d drill
	d.state = map[string]lww.Record{}
	clock := int64(0)
	id := int64(0)
	next := func() int64 { id++; return id }
	for range 20 + rng.IntN(40) {
		dc := dcs[rng.IntN(len(dcs))]
		node := stores[dc][rng.IntN(len(stores[dc]))]
		key := keys[rng.IntN(len(keys))]
		t := int64(1+rng.IntN(20)) * 10 // frequent equal event times
		op := Op{ID: next(), Client: dc + "/w1", DC: dc, Keyspace: ks, Key: key, EventTime: t}
		rec := lww.Record{Version: lww.Version{Time: t, DC: dc, Node: node}, Kind: lww.KindTombstone}
		if rng.IntN(10) < 7 {
			op.Kind, op.Value = KindPut, fmt.Sprintf("v%d", op.ID)
			rec.Kind, rec.Value = lww.KindValue, []byte(op.Value)
			if rng.IntN(4) == 0 {
				op.ExpiresAt = t + int64(1+rng.IntN(200))
				rec.ExpiresAt = op.ExpiresAt
			}
		} else {
			op.Kind = KindDelete
		}
		clock += 10
		op.Invoke, op.Complete = clock, clock+5
		landed := false
		switch n := rng.IntN(10); {
		case n < 7:
			op.Outcome, landed = OutcomeOK, true
		case n < 9:
			op.Outcome, landed = OutcomeUnknown, rng.IntN(2) == 0
		default:
			op.Outcome = OutcomeFail
		}
		if landed {
			cur, ok := d.state[key]
			if !ok || lww.Wins(rec, cur) {
				d.state[key] = rec
				op.Applied = true
			}
			if op.Outcome == OutcomeOK {
				op.Version = d.state[key].Version
			}
		}
		if op.Outcome != OutcomeOK {
			op.Applied = false
		}
		d.ops = append(d.ops, op)

		// A sampled read sees the state of the moment, which only grows.
		if cur, ok := d.state[key]; ok && cur.Kind == lww.KindValue && rng.IntN(2) == 0 {
			clock += 10
			d.ops = append(d.ops, Op{ID: next(), Client: dc + "/r1", DC: dc, Kind: KindGet, Keyspace: ks, Key: key,
				Value: string(cur.Value), Invoke: clock, Complete: clock + 5, Outcome: OutcomeOK, Found: true,
				Version: cur.Version, Replica: dc + "/" + node})
		}
	}

	d.final.Now = int64(rng.IntN(400))
	shards := map[string]int{"dc1": 2, "dc2": 1}
	for _, dc := range dcs {
		for i, store := range stores[dc] {
			r := Replica{DC: dc, Store: store, Keyspace: ks, Shard: uint32(i % shards[dc]), Shards: shards[dc], Records: map[string]lww.Record{}}
			for key, rec := range d.state {
				if !responsible(r, key) {
					continue
				}
				switch {
				case rec.IsTombstone() && rng.IntN(2) == 0:
					continue // purged
				case rec.Kind == lww.KindValue && rec.Expired(d.final.Now):
					switch rng.IntN(3) {
					case 0:
						continue // dropped
					case 1:
						rec = rec.Buried()
					}
				}
				r.Records[key] = rec
			}
			d.final.Replicas = append(d.final.Replicas, r)
		}
		for _, key := range keys {
			rec, ok := d.state[key]
			rd := FinalRead{DC: dc, Keyspace: ks, Key: key}
			if ok && rec.Live(d.final.Now) {
				rd.Found, rd.Value = true, string(rec.Value)
			}
			d.final.Reads = append(d.final.Reads, rd)
		}
	}
	return d
}

// clone copies d's final state so a mutation leaves d alone.
func (d drill) clone() drill {
	c := d
	c.final.Replicas = nil
	for _, r := range d.final.Replicas {
		r.Records = maps.Clone(r.Records)
		c.final.Replicas = append(c.final.Replicas, r)
	}
	c.final.Reads = append([]FinalRead(nil), d.final.Reads...)
	return c
}

func TestCheckPropertyCorrectDrillsPass(t *testing.T) {
	for seed := range uint64(500) {
		d := simulate(seed)
		res := Check(d.ops, d.final)
		require.True(t, res.OK(), "seed %d: %s\n%v", seed, res.Summary(), res.Violations)
	}
}

func TestCheckPropertyMutationsAreCaught(t *testing.T) {
	caught := map[string]int{}
	for seed := range uint64(500) {
		d := simulate(seed)
		for key, rec := range d.state {
			if !rec.Live(d.final.Now) {
				continue
			}
			// Another value under the winner's version: a phantom.
			m := d.clone()
			for _, r := range m.final.Replicas {
				if _, ok := r.Records[key]; ok {
					r.Records[key] = value(rec.Version, "forged", rec.ExpiresAt)
				}
			}
			require.Positive(t, Check(m.ops, m.final).Counts()[ViolationPhantom], "seed %d key %s", seed, key)
			caught[ViolationPhantom]++

			// A live value dropped by one replica: divergence.
			m = d.clone()
			for _, r := range m.final.Replicas {
				if _, ok := r.Records[key]; ok {
					delete(r.Records, key)
					break
				}
			}
			require.Positive(t, Check(m.ops, m.final).Counts()[ViolationDivergent], "seed %d key %s", seed, key)
			caught[ViolationDivergent]++

			// A live value rolled back under an older version everywhere,
			// where an ok write had won: a lost write or a resurrection.
			m = d.clone()
			older := value(lww.Version{Time: 1, DC: "dc0", Node: "x"}, string(rec.Value), 0)
			for _, r := range m.final.Replicas {
				if _, ok := r.Records[key]; ok {
					r.Records[key] = older
				}
			}
			counts := Check(m.ops, m.final).Counts()
			if wonOK(d.ops, key) {
				require.Positive(t, counts[ViolationLost]+counts[ViolationResurrection], "seed %d key %s", seed, key)
				caught[ViolationLost]++
			}
		}
		for key, rec := range d.state {
			if rec.Kind != lww.KindValue || !rec.Expired(d.final.Now) {
				continue
			}
			// A read served the expired value: held somewhere in dc1.
			m := d.clone()
			held := false
			for _, r := range m.final.Replicas {
				if r.DC == "dc1" && responsible(r, key) {
					r.Records[key] = rec
					held = true
				}
			}
			if !held {
				continue
			}
			for i, rd := range m.final.Reads {
				if rd.DC == "dc1" && rd.Key == key {
					m.final.Reads[i].Found, m.final.Reads[i].Value = true, string(rec.Value)
				}
			}
			require.Positive(t, Check(m.ops, m.final).Counts()[ViolationNotExpired], "seed %d key %s", seed, key)
			caught[ViolationNotExpired]++
		}
	}
	for _, k := range []string{ViolationPhantom, ViolationDivergent, ViolationLost, ViolationNotExpired} {
		require.Positive(t, caught[k], "no drill exercised %s", k)
	}
}

// wonOK reports whether an ok write of key was applied.
func wonOK(ops []Op, key string) bool {
	for _, op := range ops {
		if op.Key == key && op.IsWrite() && op.Outcome == OutcomeOK && op.Applied {
			return true
		}
	}
	return false
}
