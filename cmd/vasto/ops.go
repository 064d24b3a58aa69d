package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/topology"
)

// Online operations: keyspace resize and rebalance, store replace and
// drain, op status and wait.

// opFlags are the flags of every operation-starting command.
type opFlags struct {
	dryRun, wait *bool
	poll         *time.Duration
}

func addOpFlags(fs *flag.FlagSet, dryRunWhat string) opFlags {
	return opFlags{
		dryRun: fs.Bool("dry-run", false, "print "+dryRunWhat+" only; start nothing"),
		wait:   fs.Bool("wait", false, "wait until the operation ends, showing its progress on stderr"),
		poll:   fs.Duration("poll", time.Second, "with --wait: how often to ask the master for the progress"),
	}
}

// runResize: vasto keyspace resize NAME N [--dry-run] [--wait] | NAME --cancel.
func runResize(ctx context.Context, e *env, args []string) error {
	const usage = "vasto keyspace resize NAME N [--dry-run] [--wait] | vasto keyspace resize NAME --cancel"
	var f opFlags
	var cancel *bool
	cl, pos, err := clientCmdN(ctx, e, "keyspace resize", args, 1, 2, usage, func(fs *flag.FlagSet) {
		f = addOpFlags(fs, "the plan (shards created or removed, the data each step copies)")
		cancel = fs.Bool("cancel", false, "cancel the keyspace's resize (possible until it switched to the new layout)")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	name := pos[0]
	if *cancel {
		if len(pos) != 1 || *f.dryRun || *f.wait {
			return fmt.Errorf("%w: %s", errUsage, usage)
		}
		r, err := cl.CancelResize(ctx, name)
		if err != nil {
			return err
		}
		op, err := replyOp(r)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "cancelled operation %d: %s\n", op.ID, opLabel(op))
		return nil
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	shards, err := strconv.Atoi(pos[1])
	if err != nil {
		return fmt.Errorf("%w: shard count %q: %s", errUsage, pos[1], usage)
	}
	r, err := cl.ResizeKeyspace(ctx, name, shards, *f.dryRun)
	if err != nil {
		return err
	}
	if *f.dryRun {
		return printPlan(e, name, shards, r)
	}
	op, err := replyOp(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "started operation %d: %s", op.ID, opLabel(op))
	if r.Plan != nil {
		fmt.Fprintf(e.stdout, "; about %d keys (%s) to copy", r.Plan.Keys, humanBytes(r.Plan.Bytes))
	}
	fmt.Fprintln(e.stdout)
	return afterStart(ctx, e, cl, op.ID, f)
}

// runRebalance: vasto keyspace rebalance NAME [--dry-run] [--wait].
func runRebalance(ctx context.Context, e *env, args []string) error {
	var f opFlags
	cl, pos, err := clientCmd(ctx, e, "keyspace rebalance", args, 1, "vasto keyspace rebalance NAME [--dry-run] [--wait]", func(fs *flag.FlagSet) {
		f = addOpFlags(fs, "the replica moves")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.Rebalance(ctx, pos[0], *f.dryRun)
	if err != nil {
		return err
	}
	return movesStarted(ctx, e, cl, r, f, "keyspace "+pos[0]+" is balanced")
}

// runStoreReplace: vasto store replace OLD NEW [--dry-run] [--wait].
func runStoreReplace(ctx context.Context, e *env, args []string) error {
	var f opFlags
	cl, pos, err := clientCmd(ctx, e, "store replace", args, 2, "vasto store replace OLD NEW [--dry-run] [--wait]", func(fs *flag.FlagSet) {
		f = addOpFlags(fs, "the replica moves")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.ReplaceStore(ctx, pos[0], pos[1], *f.dryRun)
	if err != nil {
		return err
	}
	return movesStarted(ctx, e, cl, r, f, "store "+pos[0]+" holds no shard replica")
}

// runStoreDrain: vasto store drain ID [--dry-run] [--wait].
func runStoreDrain(ctx context.Context, e *env, args []string) error {
	var f opFlags
	cl, pos, err := clientCmd(ctx, e, "store drain", args, 1, "vasto store drain ID [--dry-run] [--wait]", func(fs *flag.FlagSet) {
		f = addOpFlags(fs, "the replica moves")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.DrainStore(ctx, pos[0], *f.dryRun)
	if err != nil {
		return err
	}
	return movesStarted(ctx, e, cl, r, f, "store "+pos[0]+" holds no shard replica")
}

// movesStarted reports a replace, drain or rebalance: the planned moves of
// a dry run, or the started operation with its moves.
func movesStarted(ctx context.Context, e *env, cl *client.Client, r topology.OpReply, f opFlags, nothing string) error {
	if *f.dryRun {
		if len(r.Moves) == 0 {
			fmt.Fprintf(e.stdout, "%s: nothing to move\n", nothing)
			return nil
		}
		fmt.Fprintf(e.stdout, "plan: %d replica moves (dry run: nothing started; topology version %d)\n", len(r.Moves), r.Version)
		return printMoves(e.stdout, r.Moves, false)
	}
	op, err := replyOp(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "started operation %d: %s\n", op.ID, opLabel(op))
	if len(r.Moves) > 0 {
		if err := printMoves(e.stdout, r.Moves, false); err != nil {
			return err
		}
	}
	return afterStart(ctx, e, cl, op.ID, f)
}

// afterStart waits for a started operation with --wait, or says how to.
func afterStart(ctx context.Context, e *env, cl *client.Client, id uint64, f opFlags) error {
	if !*f.wait {
		fmt.Fprintf(e.stdout, "follow it with: vasto op status %d (or vasto op wait %d)\n", id, id)
		return nil
	}
	return waitOp(ctx, e, cl, id, *f.poll, true)
}

// runOp: vasto op status|wait ID.
func runOp(ctx context.Context, e *env, args []string) error {
	const usage = "vasto op status|wait ID"
	if done, err := groupArgs(e, "op", args); done {
		return err
	}
	if args[0] != "status" && args[0] != "wait" {
		return unknownSub("op", args[0])
	}
	var poll *time.Duration
	var asJSON *bool
	cl, pos, err := clientCmd(ctx, e, "op "+args[0], args[1:], 1, usage, func(fs *flag.FlagSet) {
		if args[0] == "wait" {
			poll = fs.Duration("poll", time.Second, "how often to ask the master for the progress")
		} else {
			asJSON = jsonFlag(fs)
		}
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	id, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil || id == 0 {
		return fmt.Errorf("%w: operation id %q: %s", errUsage, pos[0], usage)
	}
	if args[0] == "wait" {
		return waitOp(ctx, e, cl, id, *poll, false)
	}
	r, err := cl.Operation(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		if _, err := replyOp(r); err != nil {
			return err
		}
		return printJSON(e.stdout, r)
	}
	return printOpStatus(e.stdout, r)
}

// waitOp waits for an operation with a progress line on stderr (after a
// line naming the operation unless named) and prints its final status on
// stdout. A cancelled operation is an error (exit 1).
func waitOp(ctx context.Context, e *env, cl *client.Client, id uint64, poll time.Duration, named bool) error {
	p := &progressLine{w: e.stderr, tty: isTerminal(e.stderr), start: time.Now(), headed: named}
	r, err := cl.WaitOperation(ctx, id, poll, p.update)
	p.end()
	if ctx.Err() != nil {
		fmt.Fprintf(e.stderr, "stopped waiting; operation %d carries on (vasto op wait %d)\n", id, id)
		return err
	}
	if r.Operation != nil && r.Operation.State != topology.OpRunning {
		op := r.Operation
		took := "-"
		if op.Finished > 0 && op.Started > 0 {
			took = time.Duration(op.Finished - op.Started).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(e.stdout, "operation %d %s after %s: %s\n", op.ID, op.State, took, opLabel(op))
	}
	return err
}

// progressLine draws the progress of a running operation: redrawn in place
// on a terminal, else a line every few seconds and at every change.
type progressLine struct {
	w     io.Writer
	tty   bool
	start time.Time // when the wait started (local clock)

	headed    bool   // the operation was named
	drawn     int    // length of the line on screen (tty)
	printed   string // phase and count of the last line (not tty)
	printedAt time.Time
	samples   []sample
}

// sample is the bytes copied at a time, for the copy rate.
type sample struct {
	at    time.Time
	bytes uint64
}

// plainEvery is how often the progress is printed when not on a terminal.
const plainEvery = 5 * time.Second

// rateWindow is how far back the copy rate looks.
const rateWindow = 10 * time.Second

func (p *progressLine) update(r topology.OpReply) {
	op := r.Operation
	if op == nil || op.State != topology.OpRunning || r.Progress == nil {
		return
	}
	now := time.Now()
	pr := r.Progress
	p.samples = append(p.samples, sample{now, pr.Bytes})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	elapsed := now.Sub(p.start)
	if op.Started > 0 {
		if d := now.Sub(time.Unix(0, op.Started)); d > elapsed {
			elapsed = d
		}
	}
	if !p.headed {
		fmt.Fprintf(p.w, "waiting for operation %d: %s\n", op.ID, opLabel(op))
		p.headed = true
	}
	var line string
	if op.Kind == topology.OpKindResize {
		line = fmt.Sprintf("op %d %s: %d/%d target replicas, %d keys, %.1f MB copied, %s",
			op.ID, pr.Phase, pr.Done, pr.Total, pr.Keys, float64(pr.Bytes)/1e6, p.rate())
	} else {
		line = fmt.Sprintf("op %d %s: %d/%d replica moves", op.ID, pr.Phase, pr.Done, pr.Total)
	}
	line += ", elapsed " + elapsed.Round(time.Second).String()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(p.drawn-len(line), 0)))
		p.drawn = len(line)
		return
	}
	state := fmt.Sprintf("%s %d/%d", pr.Phase, pr.Done, pr.Total)
	if state != p.printed || now.Sub(p.printedAt) >= plainEvery {
		fmt.Fprintln(p.w, line)
		p.printed, p.printedAt = state, now
	}
}

// rate is the copy rate over the last rateWindow.
func (p *progressLine) rate() string {
	first, last := p.samples[0], p.samples[len(p.samples)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt < 0.5 || last.bytes < first.bytes {
		return "- MB/s"
	}
	return fmt.Sprintf("%.1f MB/s", float64(last.bytes-first.bytes)/1e6/dt)
}

// end finishes the redrawn line.
func (p *progressLine) end() {
	if p.tty && p.drawn > 0 {
		fmt.Fprintln(p.w)
	}
}

// progressText describes a running operation's progress in one line.
func progressText(kind string, p *topology.Progress) string {
	if kind == topology.OpKindResize {
		return fmt.Sprintf("phase %s, %d/%d target replicas ready, %d keys, %.1f MB copied",
			p.Phase, p.Done, p.Total, p.Keys, float64(p.Bytes)/1e6)
	}
	return fmt.Sprintf("%s, %d/%d replica moves done", p.Phase, p.Done, p.Total)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// replyOp returns the operation of a reply.
func replyOp(r topology.OpReply) (*topology.Operation, error) {
	if r.Operation == nil {
		return nil, errors.New("the master's reply names no operation")
	}
	return r.Operation, nil
}

// opLabel describes an operation in words: "resize of keyspace users (1 ->
// 2 shards)".
func opLabel(op *topology.Operation) string {
	var s string
	switch op.Kind {
	case topology.OpKindResize:
		s = "resize of keyspace " + op.Keyspace
	case topology.OpKindRebalance:
		s = "rebalance of keyspace " + op.Keyspace
	case topology.OpKindReplace:
		s = "replace of store " + op.Store + " by " + op.Target
	case topology.OpKindDrain:
		s = "drain of store " + op.Store
	default:
		s = op.Kind
	}
	if op.Detail != "" {
		s += " (" + op.Detail + ")"
	}
	return s
}

// printPlan prints a resize's plan.
func printPlan(e *env, name string, to int, r topology.OpReply) error {
	p := r.Plan
	if p == nil {
		return errors.New("the master's reply has no plan")
	}
	from := to
	switch {
	case len(p.Created) > 0:
		from = int(p.Created[0])
	case len(p.Removed) > 0:
		from = int(p.Removed[len(p.Removed)-1]) + 1
	}
	fmt.Fprintf(e.stdout, "plan: resize keyspace %s from %d to %d shards (dry run: nothing started; topology version %d)\n", name, from, to, r.Version)
	if len(p.Created) > 0 {
		fmt.Fprintf(e.stdout, "created shards: %s\n", shardList(p.Created))
	}
	if len(p.Removed) > 0 {
		fmt.Fprintf(e.stdout, "removed shards: %s (their keys go to the remaining shards)\n", shardList(p.Removed))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tFROM SHARD\tFROM STORES\tTO SHARD\tTO STORES\tEST. KEYS\tEST. BYTES")
	for i, st := range p.Steps {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%d\t%s\n", i+1, st.FromShard, strings.Join(st.FromStores, ","),
			st.ToShard, strings.Join(st.ToStores, ","), st.Keys, humanBytes(st.Bytes))
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t%d\t%s\n", p.Keys, humanBytes(p.Bytes))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "(estimates from the stores' last size reports)")
	return nil
}

func shardList(shards []uint32) string {
	s := make([]string, len(shards))
	for i, n := range shards {
		s[i] = strconv.FormatUint(uint64(n), 10)
	}
	return strings.Join(s, ", ")
}

// printMoves prints replica moves, with their operation if withOp.
func printMoves(w io.Writer, moves []*topology.Move, withOp bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if withOp {
		fmt.Fprintln(tw, "KEYSPACE/SHARD\tFROM\tTO\tOPERATION")
	} else {
		fmt.Fprintln(tw, "KEYSPACE/SHARD\tFROM\tTO")
	}
	for _, m := range moves {
		if withOp {
			fmt.Fprintf(tw, "%s/%d\t%s\t%s\t%d\n", m.Keyspace, m.Shard, m.From, m.To, m.Op)
		} else {
			fmt.Fprintf(tw, "%s/%d\t%s\t%s\n", m.Keyspace, m.Shard, m.From, m.To)
		}
	}
	return tw.Flush()
}

// printOpStatus prints one operation with its progress and moves.
func printOpStatus(w io.Writer, r topology.OpReply) error {
	op, err := replyOp(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "operation %d: %s\n", op.ID, opLabel(op))
	fmt.Fprintf(w, "state:    %s, started %s", op.State, fmtTime(op.Started))
	if op.Finished > 0 {
		fmt.Fprintf(w, ", finished %s (took %s)", fmtTime(op.Finished),
			time.Duration(op.Finished-op.Started).Round(100*time.Millisecond))
	}
	fmt.Fprintln(w)
	if r.Progress != nil {
		fmt.Fprintf(w, "progress: %s\n", progressText(op.Kind, r.Progress))
		printWaiting(w, r.Progress)
	}
	if len(r.Moves) > 0 {
		fmt.Fprintln(w, "replica moves in progress:")
		return printMoves(w, r.Moves, false)
	}
	return nil
}

func printWaiting(w io.Writer, p *topology.Progress) {
	if len(p.Waiting) == 0 {
		return
	}
	fmt.Fprintln(w, "waiting for:")
	for _, s := range p.Waiting {
		fmt.Fprintf(w, "  %s\n", s)
	}
}

// describeOps prints the online operations of a described keyspace: the
// running resize, the operations, the running one's progress, the moves.
func describeOps(e *env, ks client.KeyspaceInfo) error {
	w := e.stdout
	if r := ks.Resize; r != nil {
		fmt.Fprintf(w, "\nresize in progress (operation %d): %d -> %d shards, phase %s\n", r.ID, r.From, r.To, r.Phase)
		switch r.Phase {
		case topology.PhaseCopy:
			fmt.Fprintf(w, "  clients route by the old layout (%d shards) while the target shards fill:\n", r.From)
			for _, t := range r.Targets() {
				if int(t) < len(r.Placement) {
					fmt.Fprintf(w, "  target shard %d on %s\n", t, strings.Join(r.Placement[t], ", "))
				}
			}
		case topology.PhaseSwitched:
			fmt.Fprintf(w, "  clients route by the new layout (%d shards); the targets drain the source shards:\n", r.To)
			for _, s := range r.Sources() {
				if int(s) < len(r.Placement) {
					fmt.Fprintf(w, "  source shard %d on %s\n", s, strings.Join(r.Placement[s], ", "))
				}
			}
		}
	}
	if len(ks.Ops) > 0 {
		fmt.Fprintln(w, "\noperations:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSTATE\tDETAIL\tSTARTED\tFINISHED")
		for _, op := range ks.Ops {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", op.ID, op.Kind, op.State, op.Detail, fmtTime(op.Started), fmtTime(op.Finished))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if p := ks.Progress; p != nil {
		var running *topology.Operation
		for _, op := range ks.Ops {
			if op.State == topology.OpRunning {
				running = op
			}
		}
		if running != nil {
			fmt.Fprintf(w, "\nprogress of operation %d: %s\n", running.ID, progressText(running.Kind, p))
		} else {
			fmt.Fprintf(w, "\nprogress: %s\n", progressText("", p))
		}
		printWaiting(w, p)
	}
	if len(ks.Moves) > 0 {
		fmt.Fprintln(w, "\nreplica moves in progress:")
		return printMoves(w, ks.Moves, true)
	}
	return nil
}

// fmtTime formats Unix nanoseconds in UTC, "-" for 0.
func fmtTime(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

// humanBytes formats a byte count with a decimal unit.
func humanBytes(b uint64) string {
	const k = 1000
	if b < k {
		return fmt.Sprintf("%d B", b)
	}
	v, unit := float64(b), ""
	for _, u := range []string{"kB", "MB", "GB", "TB", "PB"} {
		v, unit = v/k, u
		if v < k {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
