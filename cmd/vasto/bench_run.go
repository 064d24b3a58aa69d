package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The operations of `vasto bench --ops`; a mix reports its gets and puts
// as opMix+":get" and opMix+":put", and all of them as opMix.
const (
	opPut = "put"
	opGet = "get"
	opMix = "mix"
)

// benchPhase is one bounded run: n operations over conc workers.
type benchPhase struct {
	op        string // opPut, opGet or opMix
	n         int
	conc      int
	keys      int
	value     []byte
	readRatio float64 // opMix: probability that an operation is a get
	// rate, if positive, makes the load open: operation i (0-based, in
	// the order workers take them) is scheduled at i/rate seconds after
	// the start, a free worker waits for that time, and its latency runs
	// from then, so an operation delayed because every worker was busy
	// counts its wait (no coordinated omission).
	rate float64
}

// isGet draws whether the next operation is a get.
func (ph benchPhase) isGet(rng *rand.Rand) bool {
	switch ph.op {
	case opGet:
		return true
	case opMix:
		return rng.Float64() < ph.readRatio
	}
	return false
}

// scheduled is the start time of operation i (0-based) of an open load.
func (ph benchPhase) scheduled(start time.Time, i int64) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / ph.rate))
}

type benchResult struct {
	op     string
	done   int
	errors int64
	rate   float64
	lat    []time.Duration
}

func (r benchResult) pct(p float64) string {
	if len(r.lat) == 0 {
		return "-"
	}
	return r.at(p).Round(time.Microsecond).String()
}

// at is the latency at quantile p (0 when nothing ran).
func (r benchResult) at(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(p*float64(len(r.lat)-1))]
}

// benchWorker is what one worker records: latencies and errors of its puts
// (index 0) and gets (index 1).
type benchWorker struct {
	lat  [2][]time.Duration
	errs [2]int64
}

// benchOp runs a phase and shows a progress bar. It returns one result, or
// for a mix three: gets, puts, and all.
func benchOp(ctx context.Context, progress *benchProgress, t benchTarget, ph benchPhase) []benchResult {
	var next atomic.Int64
	workers := make([]benchWorker, ph.conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			benchWork(ctx, t, ph, &next, start, rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano()))), &workers[w])
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
		}
		progress.draw(ph.op, min(next.Load(), int64(ph.n)), int64(ph.n), time.Since(start), !running)
	}
	elapsed := time.Since(start)
	result := func(op string, kinds ...int) benchResult {
		r := benchResult{op: op}
		for _, w := range workers {
			for _, k := range kinds {
				r.lat = append(r.lat, w.lat[k]...)
				r.errors += w.errs[k]
			}
		}
		slices.Sort(r.lat)
		r.done = len(r.lat)
		r.rate = float64(r.done) / elapsed.Seconds()
		return r
	}
	switch ph.op {
	case opPut:
		return []benchResult{result(opPut, 0)}
	case opGet:
		return []benchResult{result(opGet, 1)}
	}
	return []benchResult{result(opMix+":"+opGet, 1), result(opMix+":"+opPut, 0), result(opMix, 0, 1)}
}

// benchWork is one worker: it takes operations until the phase's n are
// taken or ctx ends.
func benchWork(ctx context.Context, t benchTarget, ph benchPhase, next *atomic.Int64, start time.Time, rng *rand.Rand, rec *benchWorker) {
	key := make([]byte, 0, 32)
	for ctx.Err() == nil {
		i := next.Add(1)
		if i > int64(ph.n) {
			return
		}
		key = fmt.Appendf(key[:0], "key:%012d", rng.IntN(ph.keys))
		get := ph.isGet(rng)
		t0 := time.Now()
		if ph.rate > 0 {
			t0 = ph.scheduled(start, i-1)
			if !sleepUntil(ctx, t0) {
				return
			}
		}
		var err error
		kind := 0
		if get {
			kind = 1
			err = t.get(ctx, key)
		} else {
			err = t.put(ctx, key, ph.value)
		}
		rec.lat[kind] = append(rec.lat[kind], time.Since(t0))
		if err != nil {
			rec.errs[kind]++
		}
	}
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// benchProgress shows a run's progress on w: a bar redrawn in place on a
// terminal; otherwise (output redirected to a file or a pipe) a plain line
// every benchPlainEvery and one at the end, never carriage returns.
type benchProgress struct {
	w         io.Writer
	tty       bool
	printedAt time.Duration
}

// benchPlainEvery is how often a redirected progress prints a line.
const benchPlainEvery = 5 * time.Second

func newBenchProgress(w io.Writer) *benchProgress {
	return &benchProgress{w: w, tty: isTerminal(w)}
}

// draw shows done of total after elapsed; last is the final call of a run.
func (p *benchProgress) draw(op string, done, total int64, elapsed time.Duration, last bool) {
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	pct := done * 100 / max(total, 1)
	if !p.tty {
		if last || elapsed-p.printedAt >= benchPlainEvery {
			fmt.Fprintf(p.w, "%s: %d%% %d/%d %.0f ops/s\n", op, pct, done, total, rate)
			p.printedAt = elapsed
		}
		return
	}
	const width = 30
	filled := int(done * width / max(total, 1))
	fmt.Fprintf(p.w, "\r%-4s [%s%s] %3d%% %d/%d %.0f ops/s", op,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), pct, done, total, rate)
	if last {
		fmt.Fprintln(p.w)
	}
}
