package drill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vasto-kv/vasto/chaos/check"
	"github.com/vasto-kv/vasto/lww"
)

// Result is what a drill run found.
type Result struct {
	Config     Config
	Schedule   Schedule
	Deployment string
	// Events are the faults as injected and healed.
	Events []FaultEvent
	// Check is the checker's verdict on the history.
	Check check.Result
	// Lag are the probe samples; Throughput the ops per second.
	Lag        []LagSample
	Throughput []Bucket
	// WorkloadTime is how long the workload ran, LastHeal when (drill
	// time) the last fault was healed.
	WorkloadTime time.Duration
	LastHeal     time.Duration
	// Converged reports whether every replica agreed before the timeout,
	// ConvergeTime how long after the workload stopped (everything healed)
	// that took, and NotConverged why not.
	Converged    bool
	ConvergeTime time.Duration
	NotConverged string
	// Report, Chart and History are the files written.
	Report, Chart, History string
}

// Pass reports whether the drill passed: the replicas converged and the
// checker found no violation.
func (r Result) Pass() bool { return r.Converged && r.Check.OK() }

// Verdict is "PASS" or "FAIL".
func (r Result) Verdict() string {
	if r.Pass() {
		return "PASS"
	}
	return "FAIL"
}

// Skipped lists the faults that could not be injected, with why.
func (r Result) Skipped() []string {
	var out []string
	for _, ev := range r.Events {
		if ev.Skipped != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", ev.Kind, ev.Target(), ev.Skipped))
		}
	}
	return out
}

// Run runs one drill: it starts the deployment, runs the workload while it
// injects the schedule's faults, heals everything, waits for convergence,
// checks the history and writes the report. The deployment is stopped
// before Run returns, also when ctx is cancelled. The error is for a run
// that could not be carried out; a drill that found violations returns a
// Result whose Pass is false and a nil error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Config: cfg}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	sched, err := NewSchedule(cfg.Seed, cfg.Drill, cfg.Duration, cfg.Deployment())
	if err != nil {
		return res, err
	}
	res.Schedule = sched
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return res, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	res.History = filepath.Join(cfg.Dir, "history.jsonl")
	hf, err := os.Create(res.History)
	if err != nil {
		return res, err
	}
	defer hf.Close()
	rec := check.NewRecorder(hf)

	dr, _ := Lookup(cfg.Drill)
	dep, err := newDeployment(cfg, slices.Contains(dr.Kinds, FaultDiskFull))
	if err != nil {
		return res, err
	}
	defer func() {
		dep.shutdown()
		if !cfg.KeepData {
			dep.removeData()
		}
	}()
	say(cfg, "drill %s seed %d: starting %d DC(s) x %d stores in %s", cfg.Drill, cfg.Seed, cfg.DCs, cfg.Stores, cfg.Dir)
	began := time.Now()
	if err := dep.start(ctx); err != nil {
		return res, err
	}
	res.Deployment = dep.describe()
	say(cfg, "deployment ready in %v", time.Since(began).Round(time.Millisecond))

	w := &workload{cfg: cfg, dep: dep, rec: rec, clock: lww.SystemClock(), start: time.Now(), reads: newReplicaReads()}
	defer w.reads.close()
	say(cfg, "workload for %v; faults:\n%s", cfg.Duration, indent(sched.String()))
	res.Events, res.Lag, res.WorkloadTime = runPhase(ctx, w, dep, sched)
	for _, ev := range res.Events {
		res.LastHeal = max(res.LastHeal, ev.Healed)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	say(cfg, "workload done after %v: waiting for convergence", res.WorkloadTime.Round(time.Millisecond))
	replicas, took, why := converge(ctx, dep, w.clock, cfg.ConvergeTimeout)
	res.Converged, res.ConvergeTime, res.NotConverged = why == "", took, why
	say(cfg, "converged=%t after %v %s", res.Converged, took.Round(time.Millisecond), why)
	now := w.clock.Now()
	ops := resolveTimes(rec.Ops(), replicas)
	reads := finalReads(ctx, dep, historyKeys(ops))
	res.Check = check.Check(ops, check.Final{Now: now, Replicas: replicas, Reads: reads})
	say(cfg, "%s: %s", res.Verdict(), res.Check.Summary())
	res.Throughput = throughput(ops, w.clientReads(), res.WorkloadTime)
	if err := writeReport(&res); err != nil {
		return res, err
	}
	return res, nil
}

// runPhase runs the workload, the probes and the nemesis together for the
// configured duration, then heals everything. It returns when the workload
// stopped (drill time); probes still in flight then are awaited, bounded.
func runPhase(ctx context.Context, w *workload, dep *deployment, sched Schedule) ([]FaultEvent, []LagSample, time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, w.cfg.Duration)
	defer cancel()
	p := &prober{w: w, limit: wctx}
	n := &nemesis{dep: dep, w: w, since: func() time.Duration { return time.Duration(w.since()) }, out: w.cfg.Out}
	var wg sync.WaitGroup
	var events []FaultEvent
	var stopped time.Duration
	wg.Add(3)
	go func() { defer wg.Done(); w.run(wctx); stopped = time.Duration(w.since()) }()
	go func() { defer wg.Done(); p.run(wctx) }()
	go func() { defer wg.Done(); events = n.run(wctx, sched) }()
	wg.Wait()
	if err := n.healAll(context.WithoutCancel(ctx)); err != nil {
		dep.log.Warn("heal everything", "error", err)
	}
	return events, p.results(), stopped
}

func (w *workload) clientReads() []readEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.clientRead)
}

// historyKeys lists the distinct keys of ops, sorted.
func historyKeys(ops []check.Op) []string {
	seen := map[string]bool{}
	var keys []string
	for _, op := range ops {
		if !seen[op.Key] {
			seen[op.Key] = true
			keys = append(keys, op.Key)
		}
	}
	slices.Sort(keys)
	return keys
}

func say(cfg Config, format string, args ...any) {
	if cfg.Out != nil {
		fmt.Fprintf(cfg.Out, format+"\n", args...)
	}
}

func indent(s string) string {
	if s == "" {
		return "  (none)"
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
