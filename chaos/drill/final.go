package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/chaos/check"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/lww"
)

// dumpAll reads every record of every replica of the keyspace in every DC,
// by the topology each DC's client follows. It fails when a DC's keyspace
// is resizing, a store is unhealthy or unreachable.
func dumpAll(ctx context.Context, dep *deployment) ([]check.Replica, error) {
	var out []check.Replica
	for _, n := range dep.dcs {
		t := n.client.Topology()
		ks := t.Keyspaces[dep.cfg.Keyspace]
		if ks == nil {
			return nil, fmt.Errorf("%s: no keyspace %s in the topology", n.name, dep.cfg.Keyspace)
		}
		if ks.Resize != nil {
			return nil, fmt.Errorf("%s: keyspace still resizing", n.name)
		}
		for shard, ids := range ks.Placement {
			for _, id := range ids {
				s := t.Stores[id]
				if s == nil || !s.Healthy {
					return nil, fmt.Errorf("%s: store %s of shard %d not healthy", n.name, id, shard)
				}
				recs, err := dumpShard(ctx, s.Addr, dep.cfg.Keyspace, uint32(shard), ks.ShardEpoch(uint32(shard)))
				if err != nil {
					return nil, fmt.Errorf("%s/%s shard %d: %w", n.name, id, shard, err)
				}
				out = append(out, check.Replica{DC: n.name, Store: id, Keyspace: dep.cfg.Keyspace,
					Shard: uint32(shard), Shards: ks.Shards, Records: recs})
			}
		}
	}
	return out, nil
}

// dumpShard reads every record of one shard replica.
func dumpShard(ctx context.Context, addr, ks string, shard uint32, epoch uint64) (map[string]lww.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs := map[string]lww.Record{}
	err := chaos.DumpShard(ctx, addr, ks, shard, epoch, func(key string, rec lww.Record) error {
		recs[key] = rec
		return nil
	})
	return recs, err
}

// divergent counts the keys whose responsible replicas differ and
// describes the first.
func divergent(replicas []check.Replica, now int64) (int, string) {
	res := check.Check(nil, check.Final{Now: now, Replicas: replicas})
	for _, v := range res.Violations {
		if v.Kind == check.ViolationDivergent {
			return res.Counts()[check.ViolationDivergent], v.String()
		}
	}
	return 0, ""
}

// converge polls the replicas until they agree or timeout passes. It
// returns the last dump, how long it took, and whether they converged.
func converge(ctx context.Context, dep *deployment, clock lww.Clock, timeout time.Duration) ([]check.Replica, time.Duration, string) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b := retry.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	var last []check.Replica
	why, said := "", ""
	for {
		reps, err := dumpAll(ctx, dep)
		switch {
		case err != nil:
			why = err.Error()
		default:
			last = reps
			n, first := divergent(reps, clock.Now())
			if n == 0 {
				return reps, time.Since(start), ""
			}
			why = fmt.Sprintf("%d keys differ between replicas, e.g. %s", n, first)
		}
		if why != said {
			dep.log.Info("not converged yet", "after", time.Since(start).Round(time.Millisecond), "why", why)
			said = why
		}
		if !b.Wait(ctx, nil) {
			return last, time.Since(start), why
		}
	}
}

// finalReads reads every key of the history in every DC through the
// client.
func finalReads(ctx context.Context, dep *deployment, keys []string) []check.FinalRead {
	var out []check.FinalRead
	for _, n := range dep.dcs {
		for _, k := range keys {
			rctx, cancel := context.WithTimeout(ctx, opTimeout)
			it, err := n.client.Get(rctx, dep.cfg.Keyspace, []byte(k))
			cancel()
			if err != nil {
				// Not found, or unreadable: either way it serves no value.
				out = append(out, check.FinalRead{DC: n.name, Keyspace: dep.cfg.Keyspace, Key: k})
				continue
			}
			out = append(out, check.FinalRead{DC: n.name, Keyspace: dep.cfg.Keyspace, Key: k, Found: true, Value: string(it.Value)})
		}
	}
	return out
}

// resolveTimes fills in the event time (and expiry) of puts stamped by the
// client whose outcome did not report it (failed or indeterminate): a
// value is unique per put, so the record that holds it has its event time.
func resolveTimes(ops []check.Op, replicas []check.Replica) []check.Op {
	byValue := map[string]lww.Record{}
	for _, r := range replicas {
		for _, rec := range r.Records {
			if rec.Kind == lww.KindValue {
				byValue[string(rec.Value)] = rec
			}
		}
	}
	out := make([]check.Op, len(ops))
	for i, op := range ops {
		if op.Kind == check.KindPut && op.EventTime == 0 {
			if rec, ok := byValue[op.Value]; ok {
				op.EventTime, op.ExpiresAt = rec.Version.Time, rec.ExpiresAt
			}
		}
		out[i] = op
	}
	return out
}
