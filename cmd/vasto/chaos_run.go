package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vasto-kv/vasto/chaos/drill"
)

func init() {
	chaosCommands["run"] = chaosCommand{"run a failover drill against a deployment of its own: run DRILL [--seed S] [--duration D] [--dcs N] [--stores M] [--dir D] [--report FILE] (exit 1 on FAIL)", runChaosRun}
	chaosCommands["list"] = chaosCommand{"describe the failover drills 'chaos run' knows", runChaosList}
}

// errDrillFailed makes `vasto chaos run` exit 1 after it printed the
// verdict.
var errDrillFailed = errors.New("drill failed")

// runChaosList describes every drill.
func runChaosList(_ context.Context, e *env, args []string) error {
	fs, _ := chaosFlags(e, "list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DRILL\tFAULTS\tWHAT IT DOES")
	for _, d := range drill.Drills() {
		kinds := make([]string, len(d.Kinds))
		for i, k := range d.Kinds {
			kinds[i] = string(k)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, strings.Join(kinds, ","), d.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\nrun one: vasto chaos run DRILL [--seed S] [--duration D] [--dcs N] [--stores M] [--dir D] [--report FILE]")
	return nil
}

// runChaosRun runs one drill against a deployment of its own and exits 1
// when it fails.
func runChaosRun(ctx context.Context, e *env, args []string) error {
	name := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	cfg := drill.DefaultConfig(name)
	fs, timeout := chaosFlags(e, "run")
	tf := fs.Lookup("timeout")
	tf.Usage, tf.DefValue, *timeout = "give up on the whole run after this long (0: the duration plus 10 minutes)", "0s", 0
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the fault schedule and the operation sequence")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the workload runs (faults are healed by 80 % of it)")
	fs.IntVar(&cfg.DCs, "dcs", cfg.DCs, "number of DCs")
	fs.IntVar(&cfg.Stores, "stores", cfg.Stores, "stores per DC")
	dir := fs.String("dir", "./data/drills", "parent directory of the run's directory (DRILL-seedS: data, logs, history, report)")
	fs.StringVar(&cfg.Report, "report", "", "Markdown report path (default: the run's directory/report.md); the chart is written next to it")
	keep := fs.Bool("keep-data", false, "keep the stores' and NATS's data after the run (logs, history and report are always kept)")
	logLevel := fs.String("log-level", envOr("VASTO_LOG_LEVEL", "error"), "log level of the runner")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("%w: chaos run DRILL [flags]: name a drill (see 'vasto chaos list')", errUsage)
	}
	if _, ok := drill.Lookup(name); !ok {
		return fmt.Errorf("%w: unknown drill %q (see 'vasto chaos list')", errUsage, name)
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("chaos run: the vasto binary: %w", err)
	}
	runDir := filepath.Join(*dir, fmt.Sprintf("%s-seed%d", name, cfg.Seed))
	if entries, err := os.ReadDir(runDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: %s exists and is not empty: remove it or choose another --dir", errUsage, runDir)
	}
	e.logLevel = *logLevel
	cfg.Dir, cfg.Binary, cfg.KeepData = runDir, bin, *keep
	cfg.Replicas = max(1, min(cfg.Replicas, cfg.Stores))
	cfg.Logger, cfg.Out = e.rootLogger().Named("drill"), e.stdout
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *timeout <= 0 {
		*timeout = cfg.Duration + 10*time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := drill.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("drill %s: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "\n%s %s (seed %d): %s\n", res.Verdict(), name, cfg.Seed, res.Check.Summary())
	if !res.Converged {
		fmt.Fprintf(e.stdout, "not converged: %s\n", res.NotConverged)
	}
	for _, s := range res.Skipped() {
		fmt.Fprintf(e.stdout, "skipped: %s\n", s)
	}
	const shown = 20
	for i, v := range res.Check.Violations {
		if i == shown {
			fmt.Fprintf(e.stdout, "  ... %d more in the report\n", len(res.Check.Violations)-shown)
			break
		}
		fmt.Fprintf(e.stdout, "  %s\n", v)
	}
	fmt.Fprintf(e.stdout, "report: %s\n", res.Report)
	if res.Pass() {
		return nil
	}
	fmt.Fprintf(e.stdout, "replay: %s --dir %s\n", cfg.ReplayCommand(), filepath.Join(*dir, "replay"))
	return errDrillFailed
}
