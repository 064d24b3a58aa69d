package drill

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/chaos/check"
)

// Bucket counts the operations that completed in one second of the drill.
type Bucket struct {
	Second int
	OK     int
	Errors int
}

// throughput buckets the history's ops and the client reads by second of
// completion.
func throughput(ops []check.Op, reads []readEvent, total time.Duration) []Bucket {
	n := int(total/time.Second) + 1
	out := make([]Bucket, n)
	for i := range out {
		out[i].Second = i
	}
	add := func(at int64, ok bool) {
		i := int(at / int64(time.Second))
		if i < 0 || i >= n {
			return
		}
		if ok {
			out[i].OK++
		} else {
			out[i].Errors++
		}
	}
	for _, op := range ops {
		add(op.Complete, op.Outcome == check.OutcomeOK)
	}
	for _, r := range reads {
		add(r.at, r.ok)
	}
	return out
}

// writeReport writes the Markdown report and its chart.
func writeReport(r *Result) error {
	r.Report = r.Config.Report
	if r.Report == "" {
		r.Report = filepath.Join(r.Config.Dir, "report.md")
	}
	if err := os.MkdirAll(filepath.Dir(r.Report), 0o755); err != nil {
		return err
	}
	r.Chart = strings.TrimSuffix(r.Report, filepath.Ext(r.Report)) + ".png"
	chartErr := writeChart(*r, r.Chart)
	if chartErr != nil {
		r.Chart = ""
	}
	return os.WriteFile(r.Report, []byte(markdown(*r, chartErr)), 0o644)
}

// markdown renders the report.
func markdown(r Result, chartErr error) string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "# Drill %s: %s\n\n", c.Drill, r.Verdict())
	fmt.Fprintf(&b, "- seed: %d, workload %v, %d DC(s) x %d stores\n", c.Seed, c.Duration, c.DCs, c.Stores)
	fmt.Fprintf(&b, "- replay: `%s`\n", c.ReplayCommand())
	fmt.Fprintf(&b, "- history: `%s` (JSON Lines, one op a line)\n", r.History)
	if r.Converged {
		fmt.Fprintf(&b, "- converged %v after the workload stopped (last fault healed at %.1fs, workload stopped at %.1fs)\n",
			r.ConvergeTime.Round(time.Millisecond), r.LastHeal.Seconds(), r.WorkloadTime.Seconds())
	} else {
		fmt.Fprintf(&b, "- **not converged** within %v: %s\n", r.ConvergeTime.Round(time.Millisecond), r.NotConverged)
	}
	fmt.Fprintf(&b, "- checker: %s\n\n", r.Check.Summary())

	b.WriteString("## Deployment\n\n")
	b.WriteString(r.Deployment)
	b.WriteString("\n## Fault timeline\n\n| injected | healed | fault | target | details | notes |\n|---|---|---|---|---|---|\n")
	for _, ev := range r.Events {
		note := strings.Join(ev.Errors, "; ")
		if ev.Skipped != "" {
			note = "skipped: " + ev.Skipped
		}
		fmt.Fprintf(&b, "| %.2fs | %.2fs | %s | %s | %s | %s |\n", ev.Injected.Seconds(), ev.Healed.Seconds(),
			ev.Kind, ev.Target(), details(ev.Fault), strings.ReplaceAll(note, "|", "/"))
	}
	if len(r.Events) == 0 {
		b.WriteString("| - | - | none | - | - | - |\n")
	}
	b.WriteString("\n## Throughput and replication lag\n\n")
	if r.Chart != "" {
		fmt.Fprintf(&b, "![ops/s, errors and replication lag; faults shaded](%s)\n\n", filepath.Base(r.Chart))
	} else if chartErr != nil {
		fmt.Fprintf(&b, "(no chart: %v)\n\n", chartErr)
	}
	writeOps(&b, r)
	writeLag(&b, r.Lag)
	b.WriteString("\n## Checker findings\n\n")
	writeFindings(&b, r.Check)
	if !r.Pass() {
		fmt.Fprintf(&b, "\nReplay this run with:\n\n    %s\n", c.ReplayCommand())
	}
	return b.String()
}

func details(f Fault) string {
	switch f.Kind {
	case FaultSkewStore, FaultSkewDC:
		return fmt.Sprintf("skew %v", f.Skew)
	case FaultSlowLink:
		return fmt.Sprintf("+%v per chunk, %d B/s", f.Latency, f.Bandwidth)
	case FaultResizeMasterLoss:
		return fmt.Sprintf("resize to %d shards, master killed %v later", f.Shards, f.MasterKillAfter)
	}
	return ""
}

// writeOps prints ops/s and errors per second.
func writeOps(b *strings.Builder, r Result) {
	b.WriteString("| second | ok ops | errors | faults active |\n|---|---|---|---|\n")
	for _, bk := range r.Throughput {
		var active []string
		at := time.Duration(bk.Second) * time.Second
		for _, ev := range r.Events {
			if ev.Skipped == "" && ev.Injected < at+time.Second && ev.Healed > at {
				active = append(active, string(ev.Kind)+" "+ev.Target())
			}
		}
		fmt.Fprintf(b, "| %d | %d | %d | %s |\n", bk.Second, bk.OK, bk.Errors, strings.Join(active, ", "))
	}
	b.WriteString("\n")
}

// writeLag summarises the probes per second of the drill.
func writeLag(b *strings.Builder, lag []LagSample) {
	if len(lag) == 0 {
		b.WriteString("Replication lag: no probes (one DC).\n")
		return
	}
	var seen []time.Duration
	missed := 0
	for _, s := range lag {
		if s.Seen {
			seen = append(seen, s.Lag)
		} else {
			missed++
		}
	}
	slices.Sort(seen)
	fmt.Fprintf(b, "Replication lag (a probe key written in one DC every %v and awaited in the others): %d probes, %d not seen (within %v, or waiting %v or more when the workload stopped)",
		probeEvery, len(lag), missed, probeTimeout, probeCutShort)
	if len(seen) > 0 {
		fmt.Fprintf(b, "; p50 %v, p99 %v, max %v of those seen", pct(seen, 50), pct(seen, 99), seen[len(seen)-1].Round(time.Millisecond))
	}
	b.WriteString(".\n\n| written at | from | to | lag |\n|---|---|---|---|\n")
	sorted := slices.Clone(lag)
	slices.SortFunc(sorted, func(a, b LagSample) int { return int(a.At - b.At) })
	for _, s := range sorted {
		l := s.Lag.Round(time.Millisecond).String()
		if !s.Seen {
			l = "not seen"
		}
		fmt.Fprintf(b, "| %.2fs | %s | %s | %s |\n", s.At.Seconds(), s.From, s.To, l)
	}
}

// pct is the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return sorted[i].Round(time.Millisecond)
}

// writeFindings lists the checker's counts and violations.
func writeFindings(b *strings.Builder, res check.Result) {
	ops := res.Stats.Ops
	fmt.Fprintf(b, "| kind | ok | fail | unknown |\n|---|---|---|---|\n")
	for _, k := range []check.Kind{check.KindPut, check.KindDelete, check.KindGet} {
		fmt.Fprintf(b, "| %s | %d | %d | %d |\n", k, ops[k][check.OutcomeOK], ops[k][check.OutcomeFail], ops[k][check.OutcomeUnknown])
	}
	fmt.Fprintf(b, "\n%d keys, %d replicas, %d records; %d/%d shard digests differ within a DC (tombstone purging is asynchronous: not a violation by itself).\n\n",
		res.Stats.Keys, res.Stats.Replicas, res.Stats.Records, len(res.Stats.DigestMismatches), res.Stats.DigestGroups)
	counts := res.Counts()
	b.WriteString("| violation | count |\n|---|---|\n")
	for _, k := range check.ViolationKinds {
		fmt.Fprintf(b, "| %s | %d |\n", k, counts[k])
	}
	if res.OK() {
		b.WriteString("\nNo violations.\n")
		return
	}
	b.WriteString("\n")
	const maxListed = 50
	for i, v := range res.Violations {
		if i == maxListed {
			fmt.Fprintf(b, "- ... and %d more\n", len(res.Violations)-maxListed)
			break
		}
		fmt.Fprintf(b, "- %s\n", v.String())
	}
}
