package dc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/peerclient"
	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/store"
	"github.com/vasto-kv/vasto/topology"
	"github.com/vasto-kv/vasto/wire"
)

// Gaps in a remote DC's changes, and re-bootstrap from that DC.
//
// A DC that was away (its stores down, or the DC cut off) longer than the
// change-log retention finds that its copy of a remote DC's stream no
// longer holds every change it has not applied: JetStream dropped the oldest
// messages (of the remote stream before they were copied, or of the local
// copy before they were consumed) and the consumer silently starts at what
// is left. The cross-DC applier therefore checks, before applying a batch,
// that each remote origin's changes (one subject per origin store and shard
// in the remote DC's layout, gap-free Vasto-Index) continue where this store
// left off; a hole that the stream no longer holds makes it copy the whole
// keyspace from the remote DC before it applies the batch.
//
// Where this store left off, for one origin, is the highest cursor of that
// origin's source (store.RemoteSource) among the keyspace's local shards
// held here: every applied batch raises, on the shards its changes landed
// on, that source's cursor to the batch's highest index of the origin, and
// records it on one held shard when none of them landed here
// (spreadCursors), so the cursors track what this store has processed, not
// only what it kept.
//
// A batch whose changes of an origin do not continue its cursor is not yet
// a gap: a batch that failed is delivered again after later ones, and a
// retried publish may be stored after later changes. So the applier looks
// at the source stream itself (probe): it finds the first message on the
// origin's subject, in stream order, whose index is past the cursor; if
// that is cursor+1, or cursor+1 comes within the next xdcLookAhead messages
// on the subject, nothing is lost. Otherwise the changes from cursor+1 to
// just before the first one the stream holds are gone. The same holds for
// a store that never applied anything from the origin (cursor 0) when the
// stream no longer starts at index 1: a DC or keyspace that joined after
// the retention dropped the beginning.
//
// The copy (rebootstrap) reads the remote DC's topology through its
// JetStream domain and dumps every remote shard with VDUMP over RESP (pages
// of xdcDumpPage records, tombstones included) from its replicas in the
// remote DC, routes every record through the LOCAL topology (the keyspace
// may have another shard count here) and merges those landing on shards held
// here with ApplyRemote, without moving cursors. An origin store is the
// authority on the writes it accepted, so each remote shard is dumped from
// every healthy replica that is the origin of a gap, or else from one
// healthy replica; the changes of a gapped origin that is not healthy are
// taken from its peers (with a warning). Before copying, the applier also
// probes the keyspace's other origins (the remote placement), so that one
// copy covers every gap. Only after the copy succeeded does it set each
// gapped source's cursor to just before the first index the stream still
// holds, and apply the batch: every change before that index was committed
// by its origin before the copy began, so the copy holds it (or a later
// write of the same key). If the remote topology, a remote shard or the copy
// fails, the batch fails (it is redelivered after the consumer's NakDelay
// and the check runs again): nothing is ever skipped.
//
// The copy runs inside the batch handler and may take long. That is safe:
// the consumer fetches with one goroutine, so nothing else of this keyspace
// and remote DC is applied meanwhile, and JetStream accepts the batch's acks
// after its AckWait (30 s) has passed (a pull consumer redelivers only to a
// later pull). Shutting the applier down cancels the copy; it starts over
// on the next run. Like the in-DC re-bootstrap, the copy is merged with LWW
// into what the store holds, so a key whose tombstone the remote DC has
// already purged is not deleted by it.
//
// Limits: a hole hidden behind changes that are still pending redelivery
// (the stream holds cursor+1 but lost later ones) is not seen; an origin
// that left the remote placement is probed only when its changes arrive;
// and an origin whose every change aged out of the stream leaves nothing to
// compare with: only a later change of it reveals the gap.

const (
	// xdcLookAhead is how many messages on a subject past a suspected hole
	// are searched for the missing index (a retried publish is stored at
	// most one publish batch after later changes).
	xdcLookAhead = 256
	// xdcDumpPage is the VDUMP page size of a re-bootstrap.
	xdcDumpPage = 1000
)

// xdcGap is a remote origin whose changes this store has not all applied
// and the source stream no longer holds.
type xdcGap struct {
	src     string // the cursor name, store.RemoteSource
	origin  string // the remote store
	rshard  string // the shard in the remote DC's layout
	applied uint64 // the index this store had processed
	first   uint64 // the first index after it that the stream holds
}

// xdcOrigin is one remote origin seen in a batch.
type xdcOrigin struct {
	src, origin, rshard, subject string
}

// heldShards returns the keyspace's local shards that the local topology
// places on this store; it fails if one of them is not open (yet).
func (w *xdcWorker) heldShards(ks *topology.Keyspace) ([]Shard, error) {
	var out []Shard
	for i, reps := range ks.Placement {
		if !slices.Contains(reps, w.r.cfg.Store) {
			continue
		}
		sh, err := w.r.cfg.Shards.Shard(w.keyspace, uint32(i))
		if err != nil {
			return nil, err
		}
		out = append(out, sh)
	}
	return out, nil
}

// processedUpTo returns the highest index of source that this store has
// processed: the highest cursor of source among the held shards.
func processedUpTo(held []Shard, source string) (uint64, error) {
	var top uint64
	for _, sh := range held {
		c, err := sh.Cursor(source)
		if err != nil {
			return 0, err
		}
		top = max(top, c)
	}
	return top, nil
}

// batchTops returns, per source of a batch, its highest index, and the
// sources in order of first appearance.
func (w *xdcWorker) batchTops(msgs []bus.Delivered) (map[string]uint64, []xdcOrigin) {
	tops := map[string]uint64{}
	var order []xdcOrigin
	for _, m := range msgs {
		o, idx, ok := w.originOf(m)
		if !ok {
			continue
		}
		top, seen := tops[o.src]
		if !seen {
			order = append(order, o)
		}
		tops[o.src] = max(top, idx)
	}
	return tops, order
}

// originOf parses the origin and the origin's log index of a change message.
func (w *xdcWorker) originOf(m bus.Delivered) (xdcOrigin, uint64, bool) {
	origin, rshard, ok := parseChangeSubject(m.Subject)
	if !ok {
		return xdcOrigin{}, 0, false
	}
	idx, err := strconv.ParseUint(m.Header[wire.HeaderIndex], 10, 64)
	if err != nil || idx == 0 {
		return xdcOrigin{}, 0, false
	}
	return xdcOrigin{src: store.RemoteSource(w.remote, origin, rshard), origin: origin, rshard: rshard, subject: m.Subject}, idx, true
}

// spreadCursors makes the batch record, for every origin in it, that this
// store processed the origin up to the batch's highest index: each group's
// cursor is raised to that index (every change of the origin up to it that
// lands on the group's shard is in the batch or was applied before), and an
// origin none of whose changes landed here gets an empty group on the first
// held shard whose cursor is behind. It returns the new order of groups.
func (w *xdcWorker) spreadCursors(ks *topology.Keyspace, msgs []bus.Delivered, groups map[string]*xdcGroup, order []string) ([]string, error) {
	tops, origins := w.batchTops(msgs)
	covered := map[string]bool{}
	for _, g := range groups {
		g.top = max(g.top, tops[g.source])
		covered[g.source] = true
	}
	var held []Shard
	for _, o := range origins {
		if covered[o.src] {
			continue
		}
		if held == nil {
			var err error
			if held, err = w.heldShards(ks); err != nil {
				return nil, err
			}
			if len(held) == 0 {
				return order, nil
			}
		}
		done, err := processedUpTo(held, o.src)
		if err != nil {
			return nil, err
		}
		if done >= tops[o.src] {
			continue
		}
		key := strconv.FormatUint(uint64(held[0].ID().Shard), 10) + "|" + o.src
		groups[key] = &xdcGroup{shard: held[0], source: o.src, top: tops[o.src]}
		order = append(order, key)
	}
	return order, nil
}

// checkGaps checks that each origin's changes in the batch continue what
// this store has processed, or are still in the source stream; if some are
// lost, it copies the keyspace from the remote DC first (rebootstrap).
func (w *xdcWorker) checkGaps(ctx context.Context, ks *topology.Keyspace, msgs []bus.Delivered) error {
	bySrc := map[string][]indexed{}
	var origins []xdcOrigin
	for _, m := range msgs {
		o, idx, ok := w.originOf(m)
		if !ok {
			continue
		}
		if _, seen := bySrc[o.src]; !seen {
			origins = append(origins, o)
		}
		bySrc[o.src] = append(bySrc[o.src], indexed{idx: idx, seq: m.StreamSeq})
	}
	if len(origins) == 0 {
		return nil
	}
	held, err := w.heldShards(ks)
	if err != nil || len(held) == 0 {
		return err
	}
	var gaps []xdcGap
	checked := map[string]bool{}
	for _, o := range origins {
		checked[o.src] = true
		done, err := processedUpTo(held, o.src)
		if err != nil {
			return err
		}
		for _, h := range holes(done, bySrc[o.src]) {
			first, lost, err := w.probe(ctx, o.subject, h.applied, h.seq, h.idx)
			if err != nil {
				return fmt.Errorf("dc: gap check of %s: %w", o.subject, err)
			}
			if lost {
				gaps = append(gaps, xdcGap{src: o.src, origin: o.origin, rshard: o.rshard, applied: h.applied, first: first})
			}
		}
	}
	if len(gaps) == 0 {
		return nil
	}
	return w.rebootstrap(ctx, ks, held, gaps, checked)
}

// probe tells whether the changes on subject after index done are lost. It
// finds, among the source stream's messages on subject up to stream
// sequence upTo (a message with index upIdx > done+1), the first one in
// stream order whose index is past done. If that is done+1, or done+1 is
// among the next xdcLookAhead messages on subject, nothing is lost.
// Otherwise lost is true and first is the lowest index past done seen: the
// first one the stream still holds.
func (w *xdcWorker) probe(ctx context.Context, subject string, done, upTo, upIdx uint64) (first uint64, lost bool, err error) {
	stream, err := bus.SourceStream(w.r.cfg.DC, w.remote)
	if err != nil {
		return 0, false, err
	}
	// get returns the first message on subject at or after stream sequence
	// from (ok false: none); a message without an index counts as index 0.
	get := func(from uint64) (idx, seq uint64, ok bool, err error) {
		d, err := w.r.cfg.Bus.FirstOnSubject(ctx, stream, subject, from)
		if errors.Is(err, bus.ErrNoMessage) {
			return 0, 0, false, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
		idx, _ = strconv.ParseUint(d.Header[wire.HeaderIndex], 10, 64)
		return idx, d.StreamSeq, true, nil
	}
	// Binary search for the first stream position whose first message on
	// subject is past done (indexes grow along the stream, but for retried
	// publishes, which the look-ahead below covers).
	lo, hi := uint64(1), max(upTo, 1)
	for lo < hi {
		mid := lo + (hi-lo)/2
		idx, seq, ok, err := get(mid)
		switch {
		case err != nil:
			return 0, false, err
		case !ok || seq >= hi || idx > done:
			hi = mid
		default:
			lo = min(seq+1, hi)
		}
	}
	first = upIdx
	pos := lo
	for i := 0; i <= xdcLookAhead; i++ {
		idx, seq, ok, err := get(pos)
		if err != nil {
			return 0, false, err
		}
		if !ok {
			break
		}
		if idx == done+1 {
			return 0, false, nil
		}
		if idx > done {
			first = min(first, idx)
		}
		pos = seq + 1
	}
	return first, true, nil
}

// probeOthers probes the keyspace's other origins in the remote placement
// (those not checked with the batch) for gaps, so one copy covers them.
func (w *xdcWorker) probeOthers(ctx context.Context, rks *topology.Keyspace, held []Shard, gaps []xdcGap, checked map[string]bool) ([]xdcGap, error) {
	stream, err := bus.SourceStream(w.r.cfg.DC, w.remote)
	if err != nil {
		return nil, err
	}
	for i, reps := range rks.Placement {
		rshard := strconv.Itoa(i)
		for _, origin := range reps {
			src := store.RemoteSource(w.remote, origin, rshard)
			if checked[src] {
				continue
			}
			checked[src] = true
			subject, err := bus.ChangeSubject(w.remote, w.keyspace, uint32(i), origin)
			if err != nil {
				return nil, err
			}
			last, err := w.r.cfg.Bus.LastOnSubject(ctx, stream, subject)
			if errors.Is(err, bus.ErrNoMessage) {
				continue
			}
			if err != nil {
				return nil, err
			}
			lastIdx, _ := strconv.ParseUint(last.Header[wire.HeaderIndex], 10, 64)
			done, err := processedUpTo(held, src)
			if err != nil {
				return nil, err
			}
			if store.OrderAfter(done, lastIdx) != store.IndexGap {
				continue // nothing or only the next change pending: no hole
			}
			first, lost, err := w.probe(ctx, subject, done, last.StreamSeq, lastIdx)
			if err != nil {
				return nil, err
			}
			if lost {
				g := xdcGap{src: src, origin: origin, rshard: rshard, applied: done, first: first}
				w.logGap(g)
				gaps = append(gaps, g)
			}
		}
	}
	return gaps, nil
}

func (w *xdcWorker) logGap(g xdcGap) {
	w.log.Warn("remote changes were dropped by the change-log retention before this store applied them; copying the keyspace from the remote DC",
		"origin", g.origin, "remote_shard", g.rshard, "applied_up_to", g.applied, "first_available", g.first)
}

// rebootstrap copies the keyspace from the remote DC into the held shards
// and then moves each gapped source's cursor to just before the first index
// the stream still holds. An error leaves the cursors alone: the batch is
// redelivered and the check runs again.
func (w *xdcWorker) rebootstrap(ctx context.Context, ks *topology.Keyspace, held []Shard, gaps []xdcGap, checked map[string]bool) (err error) {
	obs := w.r.cfg.Observer
	obs.RebootstrapStarted(w.remote, w.keyspace)
	defer func() { obs.RebootstrapFinished(w.remote, w.keyspace, err) }()
	start := time.Now()
	for _, g := range gaps {
		w.logGap(g)
	}
	fail := func(what string, err error) error {
		w.log.Error("re-bootstrap from the remote DC failed; the batch will be retried", "step", what, "error", err)
		return fmt.Errorf("dc: re-bootstrap of %s from DC %s: %s: %w", w.keyspace, w.remote, what, err)
	}
	doc, _, err := w.r.cfg.Bus.GetRemoteTopology(ctx, w.remote)
	if err != nil {
		return fail("remote topology", err)
	}
	rt, err := topology.Decode(doc)
	if err != nil {
		return fail("remote topology", err)
	}
	rks, ok := rt.Keyspaces[w.keyspace]
	if !ok {
		return fail("remote topology", fmt.Errorf("%w: %s not in DC %s", topology.ErrUnknownKeyspace, w.keyspace, w.remote))
	}
	if gaps, err = w.probeOthers(ctx, rks, held, gaps, checked); err != nil {
		return fail("probe other origins", err)
	}
	copied, err := w.copyKeyspace(ctx, rt, rks, ks, held, gaps)
	if err != nil {
		return fail("copy", err)
	}
	for _, g := range gaps {
		for _, sh := range held {
			if _, err := sh.ApplyRemote(ctx, g.src, g.first-1, nil); err != nil {
				return fail("cursor", err)
			}
		}
	}
	w.log.Info("copied keyspace from the remote DC", "records", copied, "gapped_origins", len(gaps),
		"took", time.Since(start).String())
	return nil
}

// copyKeyspace dumps every shard of the remote keyspace and merges the
// records that land on held shards; it returns how many it merged.
func (w *xdcWorker) copyKeyspace(ctx context.Context, rt *topology.Topology, rks, ks *topology.Keyspace, held []Shard, gaps []xdcGap) (int, error) {
	heldBy := map[uint32]Shard{}
	for _, sh := range held {
		heldBy[sh.ID().Shard] = sh
	}
	gapped := map[string]bool{}
	for _, g := range gaps {
		gapped[g.src] = true
	}
	clients := map[string]Peer{}
	defer func() {
		for _, pc := range clients {
			_ = pc.Close()
		}
	}()
	client := func(addr string) (Peer, error) {
		if pc, ok := clients[addr]; ok && !pc.Broken() {
			return pc, nil
		} else if ok {
			_ = pc.Close()
			delete(clients, addr)
		}
		pc, err := w.r.cfg.Dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		clients[addr] = pc
		return pc, nil
	}
	total := 0
	for i, reps := range rks.Placement {
		rshard := strconv.Itoa(i)
		var origins, others []string
		for _, r := range reps {
			st := rt.Stores[r]
			healthy := st != nil && st.Healthy && st.Addr != ""
			switch {
			case healthy && gapped[store.RemoteSource(w.remote, r, rshard)]:
				origins = append(origins, r)
			case healthy:
				others = append(others, r)
			case gapped[store.RemoteSource(w.remote, r, rshard)]:
				w.log.Warn("origin of lost changes is not healthy in its DC; copying its shard from its peers instead",
					"origin", r, "remote_shard", i)
			}
		}
		copiedShard := false
		for _, r := range origins {
			n, err := w.dumpShard(ctx, client, rt.Stores[r].Addr, r, uint32(i), ks, heldBy)
			total += n
			if err != nil {
				if ctx.Err() != nil {
					return total, err
				}
				w.log.Warn("could not copy remote shard from the origin of lost changes; copying it from its peers instead",
					"origin", r, "remote_shard", i, "error", err)
				continue
			}
			copiedShard = true
		}
		var lastErr error
		for _, r := range others {
			if copiedShard {
				break
			}
			n, err := w.dumpShard(ctx, client, rt.Stores[r].Addr, r, uint32(i), ks, heldBy)
			total += n
			if err != nil {
				if ctx.Err() != nil {
					return total, err
				}
				w.log.Warn("could not copy remote shard from replica; trying another", "replica", r, "remote_shard", i, "error", err)
				lastErr = err
				continue
			}
			copiedShard = true
		}
		if !copiedShard {
			return total, fmt.Errorf("no healthy replica of remote shard %s/%d could be copied (%d placed): %w",
				w.keyspace, i, len(reps), errors.Join(lastErr, errNoHealthyReplica))
		}
	}
	return total, nil
}

var errNoHealthyReplica = errors.New("no healthy replica")

// dumpShard copies one remote shard from one of its replicas (store r) with
// VDUMP and merges the records that land on held shards (the local
// topology's routing), without moving cursors.
func (w *xdcWorker) dumpShard(ctx context.Context, client func(string) (Peer, error), addr, r string, rshard uint32,
	ks *topology.Keyspace, heldBy map[uint32]Shard) (int, error) {
	pc, err := client(addr)
	if err != nil {
		return 0, err
	}
	src := store.RemoteSource(w.remote, r, strconv.FormatUint(uint64(rshard), 10))
	merged := 0
	req := peerclient.DumpRequest{Keyspace: w.keyspace, Shard: rshard, Limit: xdcDumpPage}
	err = pc.Dump(ctx, req, func(p peerclient.DumpPage) error {
		n, err := mergeHeld(ctx, src, p.Changes, ks, heldBy)
		merged += n
		return err
	})
	return merged, err
}

// mergeHeld merges the changes that land on held shards (the local
// topology's routing) into them with LWW, and returns how many it merged.
func mergeHeld(ctx context.Context, src string, changes []lww.Change, ks *topology.Keyspace, heldBy map[uint32]Shard) (int, error) {
	by := map[uint32][]lww.Change{}
	for _, ch := range changes {
		s := topology.ShardOf(ch.Key, ks.Shards)
		if _, ok := heldBy[s]; ok {
			by[s] = append(by[s], ch)
		}
	}
	merged := 0
	for s, chs := range by {
		if _, err := heldBy[s].ApplyRemote(ctx, src, 0, chs); err != nil {
			return merged, err
		}
		merged += len(chs)
	}
	return merged, nil
}
