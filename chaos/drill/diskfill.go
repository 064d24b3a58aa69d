package drill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/chaos/check"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

const (
	// fillerName is the file that takes the disk's room.
	fillerName = "drill-filler"
	// fillLeave is the room the filler file leaves; the store's own writes
	// then fill it.
	fillLeave = 4 << 20
	// fillValueSize is the size of one fill write, fillBatch how many are
	// pipelined, fillMax the most one fault sends.
	fillValueSize = 16 << 10
	fillBatch     = 16
	fillMax       = 2048
)

// fillDisk fills the tmpfs under dc1's first store: a file takes all but
// fillLeave of it, then recorded 16 KiB puts sent straight to one of the
// store's shards fill the rest until the store refuses them. The heal
// removes the file; the store reopens the shard by itself.
func (n *nemesis) fillDisk(ctx context.Context, f Fault) (func(context.Context) error, error) {
	if n.dep.tmpfs == "" {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, n.dep.tmpfsNote)
	}
	path := filepath.Join(n.dep.tmpfs, fillerName)
	heal := func(context.Context) error { return os.Remove(path) }
	if err := fillFile(path, n.dep.tmpfs); err != nil {
		return heal, err
	}
	dc := n.dep.dc(f.DC)
	st := dc.stores[f.Store]
	shard, ok := heldShard(dc.client.Topology(), n.dep.cfg.Keyspace, st.id)
	if !ok {
		return heal, fmt.Errorf("%s holds no shard of %s", st.id, n.dep.cfg.Keyspace)
	}
	fctx, cancel := context.WithTimeout(ctx, f.Until-f.At)
	defer cancel()
	n.fillStore(fctx, dc, st, shard)
	return heal, nil
}

// fillFile writes a file at path until the file system at dir has only
// fillLeave bytes free (or is full).
func fillFile(path, dir string) error {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer file.Close()
	chunk := make([]byte, 1<<20)
	for written := 0; written < tmpfsSize; written += len(chunk) {
		free, err := freeBytes(dir)
		if err != nil || free <= fillLeave+uint64(len(chunk)) {
			return err
		}
		if _, err := file.Write(chunk); err != nil {
			return nil // full
		}
	}
	return nil
}

// heldShard returns a shard of ks that store id holds.
func heldShard(t *topology.Topology, ks, id string) (uint32, bool) {
	k := t.Keyspaces[ks]
	if k == nil {
		return 0, false
	}
	for shard, ids := range k.Placement {
		for _, s := range ids {
			if s == id {
				return uint32(shard), true
			}
		}
	}
	return 0, false
}

// fillStore sends recorded puts of fill keys of shard to the store until
// one is refused, fillMax were sent or ctx ends.
func (n *nemesis) fillStore(ctx context.Context, dc *dcNode, st *storeNode, shard uint32) {
	w := n.w
	rc := redis.NewClient(&redis.Options{Addr: st.addr, Protocol: 2, PoolSize: 1, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: opTimeout, WriteTimeout: opTimeout})
	defer rc.Close()
	ks := n.dep.cfg.Keyspace
	k := dc.client.Topology().Keyspaces[ks]
	pad := strings.Repeat("x", fillValueSize)
	for sent, i := 0, 0; sent < fillMax && ctx.Err() == nil; {
		ops := make([]check.Op, 0, fillBatch)
		for len(ops) < fillBatch {
			key := fmt.Sprintf("fill-%06d", n.fillSeq)
			n.fillSeq++
			if topology.ShardOf([]byte(key), k.Shards) != shard {
				continue
			}
			now := w.clock.Now()
			ops = append(ops, check.Op{Client: dc.name + "/filler", DC: dc.name, Kind: check.KindPut, Keyspace: ks, Key: key,
				Value: key + "-" + strconv.Itoa(i) + "-" + pad, EventTime: now})
			i++
		}
		if refused := n.sendFill(ctx, rc, shard, ops); refused {
			return
		}
		sent += len(ops)
	}
}

// sendFill pipelines ops to the store and records them; it reports whether
// the store refused one.
func (n *nemesis) sendFill(ctx context.Context, rc *redis.Client, shard uint32, ops []check.Op) bool {
	w := n.w
	invoke := w.since()
	cmds := make([]*redis.Cmd, len(ops))
	_, _ = rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "VUSE", n.dep.cfg.Keyspace, strconv.FormatUint(uint64(shard), 10))
		for j, op := range ops {
			cmds[j] = p.Do(ctx, "VSET", op.Key, op.Value, "EVENTTIME", strconv.FormatInt(op.EventTime, 10))
		}
		return nil
	})
	refused := false
	for j, op := range ops {
		op.Invoke, op.Complete = invoke, w.since()
		res, err := cmds[j].Slice()
		switch {
		case err != nil:
			refused = true
			op.Outcome, op.Error = check.OutcomeUnknown, err.Error()
			if strings.HasPrefix(err.Error(), wire.CodeReadOnly+" ") {
				op.Outcome = check.OutcomeFail // refused before reaching the database
			}
		default:
			if applied, ver, perr := parseVSET(res); perr == nil {
				op.Outcome, op.Applied, op.Version = check.OutcomeOK, applied, ver
			} else {
				op.Outcome, op.Error = check.OutcomeUnknown, perr.Error()
			}
		}
		_, _ = w.rec.Append(op)
	}
	return refused
}

// parseVSET parses [applied, event_time, origin_dc, origin_node,
// log_index].
func parseVSET(v []any) (bool, lww.Version, error) {
	if len(v) != 5 {
		return false, lww.Version{}, fmt.Errorf("drill: VSET reply of %d elements", len(v))
	}
	applied, ok1 := v[0].(int64)
	t, ok2 := v[1].(int64)
	dc, ok3 := v[2].(string)
	node, ok4 := v[3].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false, lww.Version{}, fmt.Errorf("drill: VSET reply of types %T %T %T %T", v[0], v[1], v[2], v[3])
	}
	return applied == 1, lww.Version{Time: t, DC: dc, Node: node}, nil
}

// freeBytes is the room left on the file system of dir.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
