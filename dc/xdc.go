package dc

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Cross-DC replication. Each DC keeps a local copy of every other DC's
// change-log stream (a source stream, store-and-forward over the leafnode
// link). Every store consumes, for each remote DC and each keyspace it holds
// shards of, that keyspace's remote changes, routes each key through THIS
// DC's topology (the keyspace may have a different number of shards here),
// and applies the keys that land on shards it holds with LWW. Every replica
// applies for itself; applied remote changes never enter a local change log,
// so nothing is echoed back. A keyspace that does not exist here yet has no
// consumer: its remote changes wait in the source stream and are applied
// from the beginning once it is created.

// xdcWorker applies one remote DC's changes to one keyspace.
type xdcWorker struct {
	r        *Replicator
	remote   string
	keyspace string
	log      hclog.Logger
	consumer Consumer

	mu          sync.Mutex
	lastApplied time.Time // when the latest batch was applied
	lastEvent   time.Time // stream timestamp of the latest message applied
}

// Durable names the durable consumer with which store applies remote's
// changes to keyspace (operators see it in `vasto dc status`).
func Durable(store, remote, keyspace string) string {
	name := "x_" + store + "_" + remote + "_" + keyspace
	if len(name) <= lww.MaxNameLen {
		return name
	}
	return "x_" + strconv.FormatUint(xxhash.Sum64String(store+"\x00"+remote+"\x00"+keyspace), 36)
}

func (r *Replicator) startWorker(ctx context.Context, remote, keyspace string) (*xdcWorker, error) {
	w := &xdcWorker{r: r, remote: remote, keyspace: keyspace,
		log: r.log.With("remote_dc", remote, "keyspace", keyspace)}
	stream, err := bus.SourceStream(r.cfg.DC, remote)
	if err != nil {
		return nil, err
	}
	filter, err := bus.ChangeSubjectsOfKeyspace(remote, keyspace)
	if err != nil {
		return nil, err
	}
	c, err := r.cfg.Bus.NewConsumer(bus.ConsumerConfig{
		Stream: stream, Durable: Durable(r.cfg.Store, remote, keyspace), FilterSubject: filter, Logger: w.log,
	}, w.apply)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	w.consumer = c
	w.log.Info("applying remote DC's changes")
	return w, nil
}

func (w *xdcWorker) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.consumer.Shutdown(ctx)
}

// group is the changes of one batch bound for one local shard from one
// remote origin.
type xdcGroup struct {
	shard   Shard
	source  string
	top     uint64
	changes []lww.Change
}

// apply routes a batch of remote changes through the local topology and
// applies those that land on shards this store holds.
func (w *xdcWorker) apply(ctx context.Context, msgs []bus.Delivered) error {
	if err := w.r.holdWhilePaused(ctx); err != nil {
		return err
	}
	t := w.r.top.Load()
	if t == nil {
		return fmt.Errorf("dc: no topology yet")
	}
	ks, ok := t.Keyspaces[w.keyspace]
	if !ok {
		return fmt.Errorf("dc: keyspace %s not in the local topology", w.keyspace)
	}
	// Changes lost to the retention make this store copy the keyspace from
	// the remote DC first (xdc_gap.go).
	if err := w.checkGaps(ctx, ks, msgs); err != nil {
		return err
	}
	groups := map[string]*xdcGroup{}
	var order []string
	var newest time.Time
	for _, m := range msgs {
		origin, rshard, ok := parseChangeSubject(m.Subject)
		if !ok {
			w.log.Error("skipping change with a malformed subject", "subject", m.Subject)
			continue
		}
		ch, err := lww.DecodeChange(m.Data)
		if err != nil {
			w.log.Error("skipping undecodable change", "subject", m.Subject, "error", err)
			continue
		}
		if m.Time.After(newest) {
			newest = m.Time
		}
		for _, shard := range w.destinations(ks, ch.Key) {
			sh, err := w.r.cfg.Shards.Shard(w.keyspace, shard)
			if err != nil {
				return err // placed here but not open yet: retry the batch later
			}
			src := store.RemoteSource(w.remote, origin, rshard)
			key := strconv.FormatUint(uint64(shard), 10) + "|" + src
			g, ok := groups[key]
			if !ok {
				g = &xdcGroup{shard: sh, source: src}
				groups[key] = g
				order = append(order, key)
			}
			if idx, err := strconv.ParseUint(m.Header[wire.HeaderIndex], 10, 64); err == nil && idx > g.top {
				g.top = idx
			}
			g.changes = append(g.changes, ch)
		}
	}
	order, err := w.spreadCursors(ks, msgs, groups, order)
	if err != nil {
		return err
	}
	applied, stale, newestTime := 0, 0, int64(0)
	for _, k := range order {
		g := groups[k]
		res, err := g.shard.ApplyRemote(ctx, g.source, g.top, g.changes)
		if err != nil {
			return err
		}
		n, t := store.Tally(g.changes, res)
		applied, stale, newestTime = applied+n, stale+len(res)-n, max(newestTime, t)
	}
	var pending uint64
	if len(msgs) > 0 {
		pending = msgs[len(msgs)-1].Pending
	}
	w.r.cfg.Observer.RemoteApplied(w.remote, w.keyspace, applied, stale, pending, newestTime)
	w.mu.Lock()
	w.lastApplied = time.Now()
	if newest.After(w.lastEvent) {
		w.lastEvent = newest
	}
	w.mu.Unlock()
	return nil
}

// destinations lists the local shards held here that a remote change of
// key goes to: its shard in the routed layout and, while a resize copies,
// its target shard in the new layout (the fill needs every change from the
// moment it started).
func (w *xdcWorker) destinations(ks *topology.Keyspace, key []byte) []uint32 {
	var out []uint32
	shard := topology.ShardOf(key, ks.Shards)
	if slices.Contains(ks.Placement[shard], w.r.cfg.Store) {
		out = append(out, shard)
	}
	if r := ks.Resize; r != nil && r.Phase == topology.PhaseCopy {
		if t := topology.ShardOf(key, r.To); t != shard && slices.Contains(r.Placement[t], w.r.cfg.Store) {
			out = append(out, t)
		}
	}
	return out
}

// parseChangeSubject splits vasto.chg.<dc>.<keyspace>.<shard>.<origin>.
func parseChangeSubject(subj string) (origin, shard string, ok bool) {
	parts := strings.Split(subj, ".")
	if len(parts) != 6 || parts[0] != "vasto" || parts[1] != "chg" {
		return "", "", false
	}
	return parts[5], parts[4], true
}
