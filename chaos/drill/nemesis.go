package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/internal/retry"
)

// FaultEvent is what happened to one scheduled fault: when it was injected
// and healed (drill time) and, if it could not be injected, why.
type FaultEvent struct {
	Fault
	Injected, Healed time.Duration
	// Skipped says why the fault was not injected ("" when it was).
	Skipped string
	// Errors are errors of the injection or the heal.
	Errors []string
}

// nemesis injects a schedule's faults into a deployment and heals them.
type nemesis struct {
	dep   *deployment
	w     *workload // records the writes a fault makes (disk fill)
	since func() time.Duration
	out   io.Writer
	// fillSeq numbers the disk fill's keys.
	fillSeq int
}

// run injects every fault of s at its time and heals it at its end (also
// when ctx ends meanwhile). It returns what happened to each fault.
func (n *nemesis) run(ctx context.Context, s Schedule) []FaultEvent {
	var events []FaultEvent
	for _, f := range s.Faults {
		if !n.waitUntil(ctx, f.At) {
			break
		}
		ev := FaultEvent{Fault: f, Injected: n.since()}
		heal, err := n.inject(ctx, f)
		switch {
		case errors.Is(err, ErrUnsupported):
			ev.Skipped = err.Error()
		case err != nil:
			ev.Errors = append(ev.Errors, "inject: "+err.Error())
		}
		n.say("%s inject %s %s %s", fmtDur(ev.Injected), f.Kind, f.Target(), orSkipped(ev))
		n.waitUntil(ctx, f.Until)
		if heal != nil {
			if err := heal(context.WithoutCancel(ctx)); err != nil {
				ev.Errors = append(ev.Errors, "heal: "+err.Error())
			}
		}
		ev.Healed = n.since()
		n.say("%s heal   %s %s", fmtDur(ev.Healed), f.Kind, f.Target())
		events = append(events, ev)
	}
	return events
}

func orSkipped(ev FaultEvent) string {
	if ev.Skipped != "" {
		return "(skipped: " + ev.Skipped + ")"
	}
	return strings.Join(ev.Errors, "; ")
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%7.2fs", d.Seconds()) }

func (n *nemesis) say(format string, args ...any) {
	if n.out != nil {
		fmt.Fprintf(n.out, format+"\n", args...)
	}
}

// waitUntil waits until drill time t; false if ctx ended first.
func (n *nemesis) waitUntil(ctx context.Context, t time.Duration) bool {
	return retry.Sleep(ctx, t-n.since())
}

// inject injects f and returns how to heal it (nil: nothing to heal).
func (n *nemesis) inject(ctx context.Context, f Fault) (func(context.Context) error, error) {
	dc := n.dep.dc(f.DC)
	if dc == nil {
		return nil, fmt.Errorf("%w: no DC %s", ErrUnsupported, f.DC)
	}
	switch f.Kind {
	case FaultStoreKill:
		st := dc.stores[f.Store]
		if err := st.proc.Kill(ctx); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return startAndWait(ctx, st.proc, st.addr) }, nil
	case FaultStorePause:
		p := dc.stores[f.Store].proc
		if err := p.Pause(); err != nil {
			return nil, err
		}
		return func(context.Context) error { return p.Resume() }, nil
	case FaultMasterKill:
		return n.killMaster(ctx, dc)
	case FaultNATSKill:
		if err := dc.nats.Kill(ctx); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return startAndWait(ctx, dc.nats, dc.natsAddr) }, nil
	case FaultPartition:
		links := n.dep.links(f.DC)
		for _, l := range links {
			l.Cut()
		}
		return func(context.Context) error {
			for _, l := range links {
				l.Restore()
			}
			return nil
		}, nil
	case FaultSlowLink:
		return n.slowLinks(f)
	case FaultSkewStore:
		return n.skew(ctx, []*storeNode{dc.stores[f.Store]}, f.Skew)
	case FaultSkewDC:
		heal, err := n.skew(ctx, dc.stores, f.Skew)
		if heal == nil {
			return nil, err
		}
		dc.skew.Store(int64(f.Skew))
		return func(ctx context.Context) error {
			dc.skew.Store(0)
			return heal(ctx)
		}, err
	case FaultDiskFull:
		return n.fillDisk(ctx, f)
	case FaultResizeMasterLoss:
		return n.resizeMasterLoss(ctx, dc, f)
	}
	return nil, fmt.Errorf("%w: fault %q", ErrUnsupported, f.Kind)
}

func (n *nemesis) killMaster(ctx context.Context, dc *dcNode) (func(context.Context) error, error) {
	if err := dc.master.Kill(ctx); err != nil {
		return nil, err
	}
	return func(context.Context) error { return dc.master.Start() }, nil
}

// slowLinks shapes the links of f's DC.
func (n *nemesis) slowLinks(f Fault) (func(context.Context) error, error) {
	links := n.dep.links(f.DC)
	for _, l := range links {
		l.Slow(f.Latency, f.Bandwidth)
	}
	return func(context.Context) error {
		for _, l := range links {
			l.Fast()
		}
		return nil
	}, nil
}

// skew sets the clock skew of stores; the heal clears it (a store
// restarted meanwhile has no skew any more).
func (n *nemesis) skew(ctx context.Context, stores []*storeNode, by time.Duration) (func(context.Context) error, error) {
	if !n.dep.faults {
		return nil, fmt.Errorf("%w: this vasto binary has no --allow-faults (VFAULT)", ErrUnsupported)
	}
	set := func(ctx context.Context, d time.Duration) error {
		var errs []error
		for _, st := range stores {
			if err := chaos.SkewStore(ctx, st.addr, d); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", st.id, err))
			}
		}
		return errors.Join(errs...)
	}
	if err := set(ctx, by); err != nil {
		return func(ctx context.Context) error { return set(ctx, 0) }, err
	}
	return func(ctx context.Context) error { return set(ctx, 0) }, nil
}

// resizeMasterLoss starts a resize in dc, kills its master after
// f.MasterKillAfter and restarts it at the heal.
func (n *nemesis) resizeMasterLoss(ctx context.Context, dc *dcNode, f Fault) (func(context.Context) error, error) {
	rctx, cancel := context.WithTimeout(ctx, opTimeout)
	_, err := dc.client.ResizeKeyspace(rctx, n.dep.cfg.Keyspace, f.Shards, false)
	cancel()
	if err != nil {
		err = fmt.Errorf("resize to %d shards: %w", f.Shards, err)
	}
	if !retry.Sleep(ctx, f.MasterKillAfter) {
		return nil, errors.Join(err, ctx.Err())
	}
	heal, kerr := n.killMaster(ctx, dc)
	return heal, errors.Join(err, kerr)
}

// healAll undoes whatever a cancelled or failed schedule may have left:
// every process running and resumed, every link restored and fast, no
// skew, no filler.
func (n *nemesis) healAll(ctx context.Context) error {
	var errs []error
	for _, dc := range n.dep.dcs {
		dc.skew.Store(0)
		if !dc.nats.Running() {
			errs = append(errs, startAndWait(ctx, dc.nats, dc.natsAddr))
		}
		if !dc.master.Running() {
			errs = append(errs, dc.master.Start())
		}
		for _, st := range dc.stores {
			switch {
			case !st.proc.Running():
				errs = append(errs, startAndWait(ctx, st.proc, st.addr))
			default:
				_ = st.proc.Resume()
				if n.dep.faults {
					_ = chaos.SkewStore(ctx, st.addr, 0)
				}
			}
		}
		if dc.link != nil {
			dc.link.Restore()
			dc.link.Fast()
		}
	}
	if n.dep.tmpfs != "" {
		if err := os.Remove(filepath.Join(n.dep.tmpfs, fillerName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
