package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/vasto-kv/vasto/lww"
)

// commitReq is one group of changes handed to the committer.
type commitReq struct {
	writes  []Prepared
	results []Result
	local   bool   // local writes enter the change log and are owner-checked
	source  string // remote writes: the source replica and its position
	seq     uint64
	// unowned makes forget writes remove only keys the owner of the batch
	// does not own (RemoveUnowned).
	unowned bool
	// ingest is a page to ingest (see Ingest); such a request is always
	// committed alone, and ingested is its outcome.
	ingest   []lww.Change
	ingested IngestResult
	err      error
	last     uint64        // the last log index once committed
	done     chan struct{} // closed when committed
	lead     chan struct{} // receives leadership
}

// keyState is the committer's view of one key during a commit.
type keyState struct {
	key   []byte
	cur   lww.Record
	have  bool
	dirty bool
}

// committer holds the buffers the committer goroutine reuses between
// commits. Only that goroutine touches it.
type committer struct {
	wb      *grocksdb.WriteBatch
	batch   []*commitReq
	keys    [][]byte
	states  []keyState
	index   map[string]int
	scratch []byte
	idx     [8]byte
	ingests uint64 // names Ingest's temporary files
}

func (c *committer) init(s *Shard) {
	c.wb = grocksdb.NewWriteBatch()
	c.index = make(map[string]int)
}

func (c *committer) destroy() {
	if c.wb != nil {
		c.wb.Destroy()
		c.wb = nil
	}
}

// commitQueue hands writes to whichever writer is committing. A writer that
// finds nobody committing becomes the leader: it commits every request
// pending at that moment (its own first) as one batch. Writers that arrive
// while a leader commits queue up; when the leader is done it hands
// leadership to the oldest of them, which commits everything that queued
// meanwhile as the next batch (group commit). A lone writer commits on its
// own goroutine with no hand-off, and no writer commits for others for more
// than one batch.
type commitQueue struct {
	mu      sync.Mutex
	pending []*commitReq // non-empty only while leading
	leading bool
}

// enqueue adds req and reports whether the caller leads now.
func (q *commitQueue) enqueue(req *commitReq) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, req)
	if q.leading {
		return false
	}
	q.leading = true
	return true
}

// take removes up to max writes' worth of requests, at least one. An
// ingest request is never taken with others.
func (q *commitQueue) take(buf []*commitReq, max int) []*commitReq {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, i := 0, 0
	if q.pending[0].ingest != nil {
		i = 1
	}
	for i < len(q.pending) && q.pending[i].ingest == nil && (i == 0 || n+len(q.pending[i].writes) <= max) {
		n += len(q.pending[i].writes)
		i++
	}
	buf = append(buf[:0], q.pending[:i]...)
	rest := copy(q.pending, q.pending[i:])
	clear(q.pending[rest:])
	q.pending = q.pending[:rest]
	return buf
}

// handoff passes leadership to the oldest waiting request, or resigns.
func (q *commitQueue) handoff() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		q.leading = false
		return
	}
	q.pending[0].lead <- struct{}{}
}

// lead commits one batch, which holds the leader's own request, and passes
// leadership on.
func (s *Shard) lead() {
	batch := s.queue.take(s.c.batch, s.e.cfg.MaxCommitWrites)
	s.commit(batch)
	clear(batch)
	s.c.batch = batch[:0]
	s.queue.handoff()
}

// commit applies a group of requests in one WriteBatch, or ingests the page
// of a lone ingest request, and answers them. A batch-level error goes to
// every request; commitBatch may have failed single requests before.
func (s *Shard) commit(batch []*commitReq) {
	var err error
	if batch[0].ingest != nil {
		batch[0].ingested, err = s.ingestPage(batch[0].ingest)
	} else if obs := s.e.cfg.Observer; obs != nil {
		start := time.Now()
		err = s.commitBatch(batch)
		if n := countWrites(batch); n > 0 {
			obs.Committed(s.id, n, time.Since(start))
		}
	} else {
		err = s.commitBatch(batch)
	}
	last := s.lastIndex.Load()
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		r.last = last
		close(r.done)
	}
}

func (s *Shard) commitBatch(batch []*commitReq) error {
	c := &s.c
	c.wb.Clear()
	slices, err := s.loadStates(batch)
	if err != nil {
		return err
	}
	defer slices.Destroy()

	last := s.lastIndex.Load()
	next := last + 1
	cursors := map[string]uint64(nil)
	now := s.e.cfg.Clock.Now()
	// Read once: SetOwner's barrier relies on a batch checking one owner.
	owner := s.currentOwner()
	for _, req := range batch {
		if req.local && owner.Shards != 0 {
			if err := ownsAll(owner, req.writes, s.id); err != nil {
				// Fails alone, before any of its writes is applied.
				req.err = err
				continue
			}
		}
		for i := range req.writes {
			w := &req.writes[i]
			w.stamp(s.e.hlc)
			ch := w.Change
			st := &c.states[c.index[string(ch.Key)]]
			res := &req.results[i]
			if w.forget {
				// Remove the record only if it is still the one the
				// caller saw (re-bootstrap replacing a replica's copy).
				if req.unowned && owner.Owns(ch.Key) {
					continue
				}
				if st.have && lww.Compare(st.cur, ch.Record) == 0 {
					st.have, st.dirty = false, true
					res.Applied = true
				}
				continue
			}
			res.Written = ch.Record.Version
			res.Existed = st.have && st.cur.Live(now)
			if !w.cond.holds(res.Existed) {
				res.Skipped = true
				if st.have {
					res.Version = st.cur.Version
				}
				continue
			}
			if st.have && !lww.Wins(ch.Record, st.cur) {
				res.Version = st.cur.Version
				s.stats.tally(req.local, false, ch.Record, st.cur, true)
				continue
			}
			s.stats.tally(req.local, true, ch.Record, st.cur, st.have)
			st.cur, st.have, st.dirty = ch.Record, true, true
			res.Applied, res.Version = true, ch.Record.Version
			if !req.local || !s.logsChanges() {
				continue
			}
			res.LogIndex = next
			if err := s.putLog(next, ch); err != nil {
				return err
			}
			next++
		}
		if !req.local {
			if cursors == nil {
				cursors = make(map[string]uint64)
			}
			if req.seq > cursors[req.source] {
				cursors[req.source] = req.seq
			}
		}
	}
	for i := range c.states {
		st := &c.states[i]
		if !st.dirty {
			continue
		}
		if !st.have {
			c.wb.DeleteCF(s.cfData, st.key)
			continue
		}
		var err error
		c.scratch, err = lww.AppendRecord(c.scratch[:0], st.cur)
		if err != nil {
			return err
		}
		c.wb.PutCF(s.cfData, st.key, c.scratch)
	}
	if n := countWrites(batch); n > 0 {
		s.stats.commits.Add(1)
		s.stats.commitWrites.Add(uint64(n))
	}
	moved := s.putCursors(cursors)
	if c.wb.Count() == 0 {
		// Nothing won, or nothing to write (SetOwner's empty request):
		// what the writers saw is already durable.
		return nil
	}
	if err := s.dbWrite("commit", func() error { return s.db.Write(s.wo, c.wb) }); err != nil {
		if errors.Is(err, ErrReadOnly) {
			return err
		}
		return fmt.Errorf("store: commit: %w", err) // logged by dbWrite
	}
	s.lastIndex.Store(next - 1)
	if next != last+1 {
		select {
		case s.logged <- struct{}{}:
		default:
		}
	}
	s.publishCursors(moved)
	return nil
}

// countWrites is the number of writes a batch carries.
func countWrites(batch []*commitReq) int {
	n := 0
	for _, r := range batch {
		n += len(r.writes)
	}
	return n
}

// loadStates collects the distinct keys of the batch and reads their current
// records with one MultiGet. The returned slices back the decoded values and
// must be destroyed after the batch is written.
func (s *Shard) loadStates(batch []*commitReq) (grocksdb.Slices, error) {
	c := &s.c
	clear(c.index)
	c.keys = c.keys[:0]
	c.states = c.states[:0]
	for _, req := range batch {
		for i := range req.writes {
			ch := &req.writes[i].Change
			if _, ok := c.index[string(ch.Key)]; ok {
				continue
			}
			c.index[string(ch.Key)] = len(c.keys)
			c.keys = append(c.keys, ch.Key)
			c.states = append(c.states, keyState{key: ch.Key})
		}
	}
	if len(c.keys) == 0 {
		return nil, nil
	}
	slices, err := s.db.MultiGetCF(s.ro, s.cfData, c.keys...)
	if err != nil {
		return nil, fmt.Errorf("store: read before write: %w", err)
	}
	for i, sl := range slices {
		if !sl.Exists() {
			continue
		}
		rec, err := lww.DecodeRecord(sl.Data())
		if err != nil {
			slices.Destroy()
			return nil, fmt.Errorf("%w: key %q: %w", ErrCorrupt, c.keys[i], err)
		}
		c.states[i].cur, c.states[i].have = rec, true
	}
	return slices, nil
}

func (s *Shard) putLog(index uint64, ch lww.Change) error {
	c := &s.c
	var err error
	c.scratch, err = lww.AppendChange(c.scratch[:0], ch)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint64(c.idx[:], index)
	c.wb.PutCF(s.cfLog, c.idx[:], c.scratch)
	return nil
}

// putCursors adds the cursors that move forward to the batch and returns them.
func (s *Shard) putCursors(cursors map[string]uint64) map[string]uint64 {
	if len(cursors) == 0 {
		return nil
	}
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	for src, seq := range cursors {
		cur, err := s.cursorLocked(src)
		if err != nil || seq <= cur {
			delete(cursors, src)
			continue
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], seq)
		s.c.wb.PutCF(s.cfMeta, []byte(metaCursorPfx+src), v[:])
	}
	return cursors
}

func (s *Shard) publishCursors(moved map[string]uint64) {
	if len(moved) == 0 {
		return
	}
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	for src, seq := range moved {
		s.cursors[src] = seq
	}
}

// ownsAll returns an error wrapping ErrMoved unless o owns every write's key.
func ownsAll(o Owner, writes []Prepared, id ShardID) error {
	for i := range writes {
		if !o.Owns(writes[i].Change.Key) {
			return o.moved(id)
		}
	}
	return nil
}
