package drill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/chaos/check"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// replicaReads reads keys from one chosen replica (not through the
// client's routing and hedging), so the history can say which replica
// answered: the checker's "backwards" rule is per replica.
type replicaReads struct {
	mu    sync.Mutex
	pools map[string]*redis.Client // by address
}

func newReplicaReads() *replicaReads { return &replicaReads{pools: map[string]*redis.Client{}} }

func (r *replicaReads) pool(addr string) *redis.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.pools[addr]
	if c == nil {
		c = redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: 4, MaxRetries: -1,
			DialTimeout: opTimeout, ReadTimeout: opTimeout, WriteTimeout: opTimeout})
		r.pools[addr] = c
	}
	return c
}

// close closes every connection.
func (r *replicaReads) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.pools {
		_ = c.Close()
	}
	r.pools = map[string]*redis.Client{}
}

// replicaOf picks replica pick (modulo the replica count) of key's shard
// in topology t: the store's id and address.
func replicaOf(t *topology.Topology, ks, key string, pick int) (id, addr string, shard uint32, ok bool) {
	if t == nil {
		return "", "", 0, false
	}
	k := t.Keyspaces[ks]
	if k == nil || k.Shards < 1 {
		return "", "", 0, false
	}
	shard = topology.ShardOf([]byte(key), k.Shards)
	if int(shard) >= len(k.Placement) || len(k.Placement[shard]) == 0 {
		return "", "", 0, false
	}
	ids := k.Placement[shard]
	id = ids[pick%len(ids)]
	s := t.Stores[id]
	if s == nil {
		return "", "", 0, false
	}
	return id, s.Addr, shard, true
}

// read reads key from one replica of DC i and records it.
func (r *replicaReads) read(ctx context.Context, w *workload, i int, name, key string, seq int) {
	n := w.dep.dcs[i]
	t := n.client.Topology()
	id, addr, shard, ok := replicaOf(t, w.cfg.Keyspace, key, seq)
	if !ok || !t.Stores[id].Healthy {
		return
	}
	op := check.Op{Client: name, DC: n.name, Kind: check.KindGet, Keyspace: w.cfg.Keyspace, Key: key,
		Replica: n.name + "/" + id, Invoke: w.since()}
	rec, found, err := r.get(ctx, addr, w.cfg.Keyspace, shard, key)
	op.Complete = w.since()
	switch {
	case err != nil:
		op.Outcome, op.Error = check.OutcomeUnknown, err.Error()
	default:
		op.Outcome, op.Found = check.OutcomeOK, found
		if found {
			op.Value, op.Version = string(rec.Value), rec.Version
		}
	}
	_, _ = w.rec.Append(op)
}

// get sends VUSE and VGET to addr.
func (r *replicaReads) get(ctx context.Context, addr, ks string, shard uint32, key string) (lww.Record, bool, error) {
	var get *redis.Cmd
	var use *redis.Cmd
	_, err := r.pool(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
		use = p.Do(ctx, "VUSE", ks, strconv.FormatUint(uint64(shard), 10))
		get = p.Do(ctx, "VGET", key)
		return nil
	})
	if use != nil && use.Err() != nil {
		return lww.Record{}, false, use.Err()
	}
	if errors.Is(err, redis.Nil) || (get != nil && errors.Is(get.Err(), redis.Nil)) {
		return lww.Record{}, false, nil
	}
	if err != nil {
		return lww.Record{}, false, err
	}
	return parseVGET(get.Val())
}

// parseVGET parses [value, event_time, origin_dc, origin_node, expires_at]
// or nil.
func parseVGET(v any) (lww.Record, bool, error) {
	if v == nil {
		return lww.Record{}, false, nil
	}
	a, ok := v.([]any)
	if !ok || len(a) != 5 {
		return lww.Record{}, false, fmt.Errorf("drill: VGET reply %T of unexpected shape", v)
	}
	val, ok1 := a[0].(string)
	t, ok2 := a[1].(int64)
	dc, ok3 := a[2].(string)
	node, ok4 := a[3].(string)
	exp, ok5 := a[4].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return lww.Record{}, false, fmt.Errorf("drill: VGET reply of unexpected types %T %T %T %T %T", a[0], a[1], a[2], a[3], a[4])
	}
	return lww.Record{Kind: lww.KindValue, Value: []byte(val), Version: lww.Version{Time: t, DC: dc, Node: node}, ExpiresAt: exp}, true, nil
}
