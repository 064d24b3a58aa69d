package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/chaos/check"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/lww"
)

// opTimeout bounds one workload operation.
const opTimeout = 5 * time.Second

// opKind is what one workload step does.
type opKind int

const (
	stepPutAt       opKind = iota // put with an explicit event time
	stepPutTwin                   // the same key with the same event time in two DCs
	stepPut                       // put stamped by the client
	stepPutTTL                    // put with a TTL
	stepDelete                    // delete
	stepBatch                     // batch put
	stepRead                      // client read
	stepReadReplica               // read from one replica, recorded
)

// stepWeights are the relative frequencies of the steps.
var stepWeights = [...]int{
	stepPutAt: 20, stepPutTwin: 5, stepPut: 20, stepPutTTL: 10, stepDelete: 10,
	stepBatch: 5, stepRead: 15, stepReadReplica: 15,
}

// step is one drawn operation: everything random about it comes from the
// worker's seeded generator, so the sequence is the same for a seed.
type step struct {
	kind     opKind
	keys     []string
	explicit bool          // an explicit event time
	ttl      time.Duration // for stepPutTTL
	twin     int           // the other DC's index, for stepPutTwin
}

// stepper draws a worker's steps.
type stepper struct {
	rng           *rand.Rand
	keys, hotKeys int
	dcs           int
	total         int
}

func newStepper(seed int64, dc string, worker int, cfg Config) *stepper {
	st := &stepper{
		rng:  rand.New(rand.NewPCG(uint64(seed), nameHash(dc+"/w"+strconv.Itoa(worker)))),
		keys: cfg.Keys, hotKeys: cfg.HotKeys, dcs: cfg.DCs,
	}
	for _, w := range stepWeights {
		st.total += w
	}
	return st
}

// key draws a key: about half the time one of the hot keys.
func (s *stepper) key() string {
	if s.hotKeys > 0 && s.rng.IntN(2) == 0 {
		return keyName(s.rng.IntN(s.hotKeys))
	}
	return keyName(s.rng.IntN(s.keys))
}

func keyName(i int) string { return fmt.Sprintf("k%04d", i) }

// next draws the next step.
func (s *stepper) next(self int) step {
	n := s.rng.IntN(s.total)
	kind := opKind(0)
	for i, w := range stepWeights {
		if n < w {
			kind = opKind(i)
			break
		}
		n -= w
	}
	st := step{kind: kind, keys: []string{s.key()}}
	switch kind {
	case stepPutTwin:
		if s.dcs < 2 {
			st.kind = stepPutAt
		} else {
			st.twin = (self + 1 + s.rng.IntN(s.dcs-1)) % s.dcs
		}
	case stepPutTTL:
		st.ttl = time.Duration(500+s.rng.IntN(4500)) * time.Millisecond
		st.explicit = s.rng.IntN(2) == 0
	case stepDelete:
		st.explicit = s.rng.IntN(2) == 0
	case stepBatch:
		for range 2 + s.rng.IntN(6) {
			st.keys = append(st.keys, s.key())
		}
		st.explicit = s.rng.IntN(2) == 0
	}
	if kind == stepPutAt || kind == stepPutTwin {
		st.explicit = true
	}
	return st
}

// workload drives the operations of every DC and records them.
type workload struct {
	cfg   Config
	dep   *deployment
	rec   *check.Recorder
	clock lww.Clock
	start time.Time
	reads *replicaReads

	mu         sync.Mutex
	clientRead []readEvent
}

// readEvent is a client read, for the throughput chart.
type readEvent struct {
	at int64
	ok bool
}

// since is the drill's monotonic time of now, in ns.
func (w *workload) since() int64 { return time.Since(w.start).Nanoseconds() }

// run runs every worker until ctx ends.
func (w *workload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.dep.dcs {
		for k := 0; k < w.cfg.Workers; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.worker(ctx, i, k)
			}()
		}
	}
	wg.Wait()
}

// worker runs one worker of DC i.
func (w *workload) worker(ctx context.Context, i, k int) {
	n := w.dep.dcs[i]
	st := newStepper(w.cfg.Seed, n.name, k, w.cfg)
	name := n.name + "/w" + strconv.Itoa(k)
	var every time.Duration
	if w.cfg.Rate > 0 {
		every = time.Second / time.Duration(w.cfg.Rate)
	}
	for seq := 0; ctx.Err() == nil; seq++ {
		s := st.next(i)
		w.do(ctx, i, name, seq, s)
		if every > 0 && !retry.Sleep(ctx, every) {
			return
		}
	}
}

// do runs one step.
func (w *workload) do(ctx context.Context, i int, name string, seq int, s step) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	value := func(j int) string { return fmt.Sprintf("%s-%d-%d", name, seq, j) }
	now := w.dep.dcs[i].clock.Now()
	switch s.kind {
	case stepPutAt, stepPut, stepPutTTL:
		w.put(ctx, i, name, s.keys[0], value(0), s.explicit, now, s.ttl)
	case stepPutTwin:
		w.put(ctx, i, name, s.keys[0], value(0), true, now, 0)
		w.put(ctx, s.twin, name, s.keys[0], value(1), true, now, 0)
	case stepDelete:
		w.delete(ctx, i, name, s.keys[0], s.explicit, now)
	case stepBatch:
		kvs := make([]client.KV, len(s.keys))
		for j, k := range s.keys {
			kvs[j] = client.KV{Key: []byte(k), Value: []byte(value(j))}
		}
		w.batch(ctx, i, name, kvs, s.explicit, now)
	case stepRead:
		_, err := w.dep.dcs[i].client.Get(ctx, w.cfg.Keyspace, []byte(s.keys[0]))
		w.mu.Lock()
		w.clientRead = append(w.clientRead, readEvent{at: w.since(), ok: err == nil || errors.Is(err, client.ErrNotFound)})
		w.mu.Unlock()
	case stepReadReplica:
		w.reads.read(ctx, w, i, name, s.keys[0], seq)
	}
}

// writeOp is the recorded op of a write before it runs.
func (w *workload) writeOp(i int, name string, kind check.Kind, key, value string, explicit bool, now int64, ttl time.Duration) check.Op {
	op := check.Op{Client: name, DC: w.dep.dcs[i].name, Kind: kind, Keyspace: w.cfg.Keyspace, Key: key, Value: value}
	if explicit {
		op.EventTime = now
		if ttl > 0 {
			op.ExpiresAt = now + int64(ttl.Truncate(time.Millisecond))
		}
	}
	return op
}

func writeOpts(explicit bool, now int64, ttl time.Duration) []client.WriteOption {
	var opts []client.WriteOption
	if explicit {
		opts = append(opts, client.WithEventTime(now))
	}
	if ttl > 0 {
		opts = append(opts, client.WithTTL(ttl))
	}
	return opts
}

func (w *workload) put(ctx context.Context, i int, name, key, value string, explicit bool, now int64, ttl time.Duration) {
	op := w.writeOp(i, name, check.KindPut, key, value, explicit, now, ttl)
	op.Invoke = w.since()
	res, err := w.dep.dcs[i].client.Put(ctx, w.cfg.Keyspace, []byte(key), []byte(value), writeOpts(explicit, now, ttl)...)
	w.finish(op, res, err, ttl)
}

func (w *workload) delete(ctx context.Context, i int, name, key string, explicit bool, now int64) {
	op := w.writeOp(i, name, check.KindDelete, key, "", explicit, now, 0)
	op.Invoke = w.since()
	res, err := w.dep.dcs[i].client.Delete(ctx, w.cfg.Keyspace, []byte(key), writeOpts(explicit, now, 0)...)
	w.finish(op, res, err, 0)
}

func (w *workload) batch(ctx context.Context, i int, name string, kvs []client.KV, explicit bool, now int64) {
	invoke := w.since()
	res, err := w.dep.dcs[i].client.BatchPut(ctx, w.cfg.Keyspace, kvs, writeOpts(explicit, now, 0)...)
	var be *client.BatchError
	errors.As(err, &be)
	for j, kv := range kvs {
		op := w.writeOp(i, name, check.KindPut, string(kv.Key), string(kv.Value), explicit, now, 0)
		op.Invoke = invoke
		var r client.WriteResult
		itemErr := err
		switch {
		case be != nil:
			itemErr = be.Errs[j]
			r = res[j]
		case err == nil:
			r = res[j]
		}
		w.finish(op, r, itemErr, 0)
	}
}

// finish records a write's outcome.
func (w *workload) finish(op check.Op, res client.WriteResult, err error, ttl time.Duration) {
	op.Complete = w.since()
	if err != nil {
		op.Outcome, op.Error = outcomeOf(err), err.Error()
		_, _ = w.rec.Append(op)
		return
	}
	op.Outcome, op.Applied, op.Version = check.OutcomeOK, res.Applied, res.Version
	if res.Applied && op.EventTime == 0 {
		op.EventTime = res.Version.Time
		if ttl > 0 {
			op.ExpiresAt = op.EventTime + int64(ttl.Truncate(time.Millisecond))
		}
	}
	_, _ = w.rec.Append(op)
}

// outcomeOf classifies a failed operation: rejected before anything was
// sent (fail), or indeterminate (an attempt may have landed).
func outcomeOf(err error) check.Outcome {
	if errors.Is(err, client.ErrInvalid) || errors.Is(err, client.ErrTooLarge) || errors.Is(err, client.ErrBadName) {
		return check.OutcomeFail
	}
	return check.OutcomeUnknown
}
