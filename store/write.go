package store

import (
	"context"
	"fmt"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

// Mutation is one write requested by a client.
type Mutation struct {
	Key   []byte
	Value []byte
	// Delete writes a tombstone; Value must be empty.
	Delete bool
	// EventTime orders the write (nanoseconds since the Unix epoch). Zero
	// lets the store's hybrid logical clock assign one.
	EventTime int64
	// TTL makes the value expire TTL after its event time. Zero: never.
	TTL time.Duration
	// Cond makes the write conditional on the key's state on this replica
	// when the committer decides it (Redis' SET NX and XX).
	Cond Cond
}

// Cond is the condition of a conditional write, checked by the shard's
// committer against the record this replica holds, so no other local write
// of the key comes between the check and the write. Replicas and DCs
// decide independently: a condition is not global.
type Cond uint8

const (
	// CondNone writes unconditionally.
	CondNone Cond = iota
	// CondAbsent writes only if the key has no live value (SET NX).
	CondAbsent
	// CondPresent writes only if the key has a live value (SET XX).
	CondPresent
)

// Result tells what became of one write.
type Result struct {
	// Applied is false when the key already held a later (or the same)
	// version: the write lost under last-writer-wins and changed nothing.
	Applied bool
	// Version is the version the key holds after the write: the write's own
	// when applied, the winner's otherwise.
	Version lww.Version
	// Written is the version the write carried.
	Written lww.Version
	// LogIndex is the change-log index of an applied local write.
	LogIndex uint64
	// Existed reports whether the key held a live value just before the
	// write was committed.
	Existed bool
	// Skipped reports that the write's condition (Mutation.Cond) did not
	// hold: nothing was written.
	Skipped bool
}

// ValidSource reports whether s can name the source of remote writes (and
// so a cursor): 1 to 255 bytes of ASCII letters, digits, '_', '-', '.' and
// ':'. Sources combine names, e.g. "x:dc2:store3:users:4".
func ValidSource(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// CheckKey validates a key's size.
func CheckKey(key []byte) error {
	if len(key) == 0 || len(key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrKeyTooLarge, len(key), MaxKeySize)
	}
	return nil
}

// Prepared is a validated write ready to be committed.
type Prepared struct {
	Change lww.Change
	// auto: the committer assigns the event time from the hybrid clock when
	// it commits the write, so writes without an explicit event time are
	// ordered as the shard commits them and never lose to each other.
	auto bool
	ttl  time.Duration
	// forget removes the key's record if it equals Change.Record, without
	// a tombstone and without a log entry (re-bootstrap only).
	forget bool
	// cond is checked at commit (Mutation.Cond).
	cond Cond
}

// holds reports whether a write's condition holds for a key whose live
// state is existed.
func (c Cond) holds(existed bool) bool {
	switch c {
	case CondAbsent:
		return !existed
	case CondPresent:
		return existed
	}
	return true
}

// Prepare validates a mutation and turns it into the write the shard will
// commit: it checks sizes and an explicit event time against the guard rails
// and computes the expiry. Nothing is written.
func (s *Shard) Prepare(m Mutation) (Prepared, error) {
	if err := CheckKey(m.Key); err != nil {
		return Prepared{}, err
	}
	if len(m.Value) > MaxValueSize {
		return Prepared{}, fmt.Errorf("%w: %d bytes (limit %d)", ErrValueTooLarge, len(m.Value), MaxValueSize)
	}
	e := s.e
	if m.Cond > CondPresent {
		return Prepared{}, fmt.Errorf("%w: condition %d", lww.ErrInvalidRecord, m.Cond)
	}
	p := Prepared{auto: m.EventTime == 0, ttl: m.TTL, cond: m.Cond}
	t := m.EventTime
	if p.auto {
		// Stand-in for validation; the committer sets the real time.
		t = e.cfg.Clock.Now() + int64(e.cfg.MaxFuture)
	} else if err := e.guard.CheckEventTime(t, e.cfg.Clock.Now()); err != nil {
		return Prepared{}, err
	}
	rec := lww.Record{
		Version: lww.Version{Time: t, DC: e.cfg.DC, Node: e.cfg.Node},
		Kind:    lww.KindValue,
		Value:   m.Value,
	}
	if m.Delete {
		if len(m.Value) != 0 {
			return Prepared{}, fmt.Errorf("%w: delete with a value", lww.ErrInvalidRecord)
		}
		rec.Kind, rec.Value = lww.KindTombstone, nil
	} else if rec.Value == nil {
		rec.Value = []byte{}
	}
	if m.TTL != 0 {
		exp, err := lww.ExpiryFor(t, m.TTL)
		if err != nil {
			return Prepared{}, err
		}
		rec.ExpiresAt = exp
	}
	if err := rec.Validate(); err != nil {
		return Prepared{}, err
	}
	if !p.auto {
		e.hlc.Observe(t)
	}
	p.Change = lww.Change{Key: m.Key, Record: rec}
	return p, nil
}

// stamp gives an auto-timed write its event time at commit.
func (p *Prepared) stamp(hlc *lww.HLC) {
	if !p.auto {
		return
	}
	t := hlc.Now()
	p.Change.Record.Version.Time = t
	if p.ttl != 0 {
		p.Change.Record.ExpiresAt = t + int64(p.ttl) // checked in Prepare
	}
}

// Write validates every mutation, then commits them together. If any
// mutation is invalid, nothing is written. Results are in mutation order.
func (s *Shard) Write(ctx context.Context, muts ...Mutation) ([]Result, error) {
	if len(muts) > MaxBatchWrites {
		return nil, fmt.Errorf("%w: %d writes (limit %d)", ErrBatchTooLarge, len(muts), MaxBatchWrites)
	}
	writes := make([]Prepared, len(muts))
	size := 0
	for i, m := range muts {
		p, err := s.Prepare(m)
		if err != nil {
			return nil, fmt.Errorf("write %d: %w", i, err)
		}
		size += len(m.Key) + len(m.Value)
		writes[i] = p
	}
	if size > MaxBatchBytes {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBatchTooLarge, size, MaxBatchBytes)
	}
	return s.Commit(ctx, writes)
}

// Put writes one value with a store-assigned event time.
func (s *Shard) Put(ctx context.Context, key, value []byte) (Result, error) {
	r, err := s.Write(ctx, Mutation{Key: key, Value: value})
	if err != nil {
		return Result{}, err
	}
	return r[0], nil
}

// Delete writes a tombstone with a store-assigned event time.
func (s *Shard) Delete(ctx context.Context, key []byte) (Result, error) {
	r, err := s.Write(ctx, Mutation{Key: key, Delete: true})
	if err != nil {
		return Result{}, err
	}
	return r[0], nil
}

// Commit commits prepared local changes as one group: each is applied if it
// wins under last-writer-wins, and each applied change gets the next
// change-log index, in the same RocksDB batch. Commit returns when the batch
// is durable (see the package doc); ctx only bounds the wait before the
// writes are queued.
func (s *Shard) Commit(ctx context.Context, writes []Prepared) ([]Result, error) {
	return s.submit(ctx, &commitReq{writes: writes, local: true})
}

// ApplyRemote applies changes that another replica (source) accepted, up to
// its change-log position seq. Each change is applied if it wins; none enters
// this shard's own change log. The source's cursor is set to seq in the same
// batch (it never moves backwards), so a restarted consumer resumes from
// Cursor(source)+1.
func (s *Shard) ApplyRemote(ctx context.Context, source string, seq uint64, changes []lww.Change) ([]Result, error) {
	if !ValidSource(source) {
		return nil, fmt.Errorf("%w: source %q", ErrBadName, source)
	}
	if len(changes) > MaxBatchWrites {
		return nil, fmt.Errorf("%w: %d writes", ErrBatchTooLarge, len(changes))
	}
	now := s.e.cfg.Clock.Now()
	writes := make([]Prepared, len(changes))
	for i, c := range changes {
		writes[i].Change = c
		if err := CheckKey(c.Key); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if err := c.Record.Validate(); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		if s.e.guard.CheckEventTime(c.Record.Version.Time, now) == nil {
			s.e.hlc.Observe(c.Record.Version.Time)
		}
	}
	return s.submit(ctx, &commitReq{writes: writes, source: source, seq: seq})
}

// submit queues a request and waits until it is committed, leading the
// commit when it is the request's turn. Once queued a request is always
// committed and answered: ctx only bounds the wait to queue.
// Forget removes records of this replica that a re-bootstrap found absent
// from the peer copied, each only if it is still the record given, through
// the committer so no concurrent write is lost. Nothing enters the log.
func (s *Shard) Forget(ctx context.Context, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	writes := make([]Prepared, len(items))
	for i, it := range items {
		writes[i] = Prepared{Change: lww.Change{Key: it.Key, Record: it.Record}, forget: true}
	}
	_, err := s.submit(ctx, &commitReq{writes: writes, source: "bootstrap"})
	return err
}

func (s *Shard) submit(ctx context.Context, req *commitReq) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req.done = make(chan struct{})
	req.lead = make(chan struct{}, 1)
	req.results = make([]Result, len(req.writes))
	// Holding the read lock until the write is answered keeps Close from
	// closing the database under a leader that is committing.
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if len(req.writes) > 0 || req.ingest != nil {
		// Refused at once on a read-only shard. A request without writes
		// (SetOwner's barrier, a cursor move) goes on: the committer writes
		// only what it must, through dbWrite.
		if err := s.readOnlyErr(); err != nil {
			return nil, err
		}
	}
	if s.queue.enqueue(req) {
		s.lead()
	}
	select {
	case <-req.done:
	case <-req.lead:
		s.lead()
	}
	<-req.done
	return req.results, req.err
}
