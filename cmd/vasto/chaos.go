package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/internal/secure"
)

// chaosCommand is one `vasto chaos NAME` entry point.
type chaosCommand struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// chaosCommands are the sub-subcommands of `vasto chaos`; other files add
// theirs to the map in an init function. (Filled in init: the commands'
// help reads the map.)
var chaosCommands = map[string]chaosCommand{}

func init() {
	for name, c := range faultCommands() {
		chaosCommands[name] = c
	}
}

// faultCommands are the fault-injection and verification commands.
func faultCommands() map[string]chaosCommand {
	return map[string]chaosCommand{
		"skew":               {"set a store's clock skew: skew --store ADDR --by DURATION (negative: behind; 0 clears)", runChaosSkew},
		"crash":              {"make a store exit at once, closing nothing: crash --store ADDR", runChaosCrash},
		"pause-replication":  {"stop stores applying other DCs' changes: pause-replication --store ADDR... | --dc DC --nats URL [--for D]", runChaosPause},
		"resume-replication": {"resume cross-DC replication: resume-replication --store ADDR... | --dc DC --nats URL", runChaosResume},
		"fault-status":       {"show the faults in force on stores: fault-status --store ADDR... | --dc DC --nats URL", runChaosStatus},
		"proxy":              {"run a TCP proxy that drills can cut or slow: proxy --listen A --to B --control C", runChaosProxy},
		"cut":                {"cut a proxy's link: cut --proxy C", runChaosCut},
		"restore":            {"restore a proxy's link: restore --proxy C", runChaosRestore},
		"slow":               {"delay and throttle a proxy's link: slow --proxy C --latency D [--bandwidth BYTES/s]", runChaosSlow},
		"fast":               {"remove a proxy's delay and throttle: fast --proxy C", runChaosFast},
		"verify":             {"check that every replica in every DC holds the same data: verify KEYSPACE --dcs dc1=nats://...,dc2=nats://... (exit 1 when not converged)", runChaosVerify},
	}
}

// errNotConverged is verify's failure: exit code 1.
var errNotConverged = errors.New("not converged")

// maxPause is the longest pause-replication (the store's own limit).
const maxPause = 24 * time.Hour

// runChaos dispatches `vasto chaos SUB`.
func runChaos(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		chaosUsage(e.stderr)
		if len(args) == 0 {
			return fmt.Errorf("%w: vasto chaos COMMAND", errUsage)
		}
		return flag.ErrHelp
	}
	c, ok := chaosCommands[args[0]]
	if !ok {
		chaosUsage(e.stderr)
		return fmt.Errorf("%w: unknown chaos command %q", errUsage, args[0])
	}
	return c.run(ctx, e, args[1:])
}

func chaosUsage(w io.Writer) {
	summaries := make(map[string]string, len(chaosCommands))
	for n, c := range chaosCommands {
		summaries[n] = c.summary
	}
	commandUsage(w, "vasto chaos",
		"fault injection for drills; stores take faults only when started with --allow-faults", summaries, 19)
}

// chaosFlags makes the flag set of `vasto chaos name`, whose -h prints
// usage and the flags.
func chaosFlags(e *env, name string) (*flag.FlagSet, *time.Duration) {
	fs := flag.NewFlagSet("chaos "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: vasto chaos %s [flags]\n\n%s\n\nflags:\n", name, chaosCommands[name].summary)
		fs.PrintDefaults()
	}
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	return fs, timeout
}

// addrList is a flag that may be repeated or hold comma-separated values.
type addrList []string

func (l *addrList) String() string { return strings.Join(*l, ",") }

func (l *addrList) Set(s string) error {
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			*l = append(*l, a)
		}
	}
	return nil
}

// storeTargets are the --store, or --dc and --nats, flags of the commands
// that act on several stores.
type storeTargets struct {
	stores addrList
	dc     *string
	nats   *string
	sec    securityFlags
}

func addStoreTargets(fs *flag.FlagSet) *storeTargets {
	t := &storeTargets{}
	fs.Var(&t.stores, "store", "a store's RESP address (repeat, or comma-separate, for several)")
	t.dc = fs.String("dc", "", "act on every store of this DC (read from its topology; needs --nats)")
	t.nats = fs.String("nats", envOr("VASTO_NATS", ""), "NATS URL of the DC given with --dc (env VASTO_NATS)")
	t.sec = addSecurity(fs)
	return t
}

// resolve returns the addresses to act on.
func (t *storeTargets) resolve(ctx context.Context, e *env) ([]string, error) {
	switch {
	case len(t.stores) > 0 && *t.dc != "":
		return nil, fmt.Errorf("%w: give --store or --dc, not both", errUsage)
	case len(t.stores) > 0:
		return t.stores, nil
	case *t.dc == "":
		return nil, fmt.Errorf("%w: give --store ADDR or --dc DC --nats URL", errUsage)
	case *t.nats == "":
		return nil, fmt.Errorf("%w: --dc needs --nats", errUsage)
	}
	dc, err := chaosDC(*t.dc, *t.nats)
	if err != nil {
		return nil, err
	}
	return chaos.DCStores(ctx, dc, e.rootLogger().Named("bus"))
}

// withStoreTLS returns ctx whose requests to stores use the TLS flags.
func withStoreTLS(ctx context.Context, sec securityFlags) (context.Context, error) {
	cfg, err := sec.clientTLS()
	if err != nil {
		return ctx, err
	}
	return chaos.WithStoreTLS(ctx, cfg), nil
}

// oneStore parses a command whose only target is --store ADDR, and returns
// ctx carrying the TLS flags for the requests to it.
func oneStore(ctx context.Context, e *env, name string, args []string, define func(fs *flag.FlagSet)) (context.Context, string, time.Duration, error) {
	fs, timeout := chaosFlags(e, name)
	addr := fs.String("store", "", "the store's RESP address, host:port")
	sec := addSecurity(fs)
	if define != nil {
		define(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return ctx, "", 0, err
	}
	if *addr == "" {
		return ctx, "", 0, fmt.Errorf("%w: --store is required", errUsage)
	}
	ctx, err := withStoreTLS(ctx, sec)
	return ctx, *addr, *timeout, err
}

func runChaosSkew(ctx context.Context, e *env, args []string) error {
	var by *time.Duration
	ctx, addr, timeout, err := oneStore(ctx, e, "skew", args, func(fs *flag.FlagSet) {
		by = fs.Duration("by", 0, "the clock's offset from the host's, e.g. 2s or -500ms (absolute, not added; 0 clears it)")
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chaos.SkewStore(ctx, addr, *by); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: clock skewed by %s\n", addr, *by)
	return nil
}

func runChaosCrash(ctx context.Context, e *env, args []string) error {
	ctx, addr, timeout, err := oneStore(ctx, e, "crash", args, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chaos.CrashStore(ctx, addr); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: crashed\n", addr)
	return nil
}

// pauseAll pauses (or, with 0, resumes) cross-DC replication on every
// target store.
func pauseAll(ctx context.Context, e *env, name string, args []string, withFor bool) error {
	fs, timeout := chaosFlags(e, name)
	targets := addStoreTargets(fs)
	d := new(time.Duration)
	if withFor {
		d = fs.Duration("for", maxPause, "how long (at most 24h; resume-replication ends it sooner)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *d < 0 || *d > maxPause || (withFor && *d == 0) {
		return fmt.Errorf("%w: --for must be in (0, %s]", errUsage, maxPause)
	}
	return eachStore(ctx, e, targets, *timeout, func(ctx context.Context, a string) error {
		if err := chaos.PauseReplication(ctx, a, *d); err != nil {
			return err
		}
		if withFor {
			fmt.Fprintf(e.stdout, "%s: cross-DC replication paused for %s\n", a, *d)
		} else {
			fmt.Fprintf(e.stdout, "%s: cross-DC replication resumed\n", a)
		}
		return nil
	})
}

// eachStore resolves the target stores and runs act on every one, all
// within timeout; it joins the errors of the stores that failed.
func eachStore(ctx context.Context, e *env, targets *storeTargets, timeout time.Duration,
	act func(ctx context.Context, addr string) error) error {
	ctx, err := withStoreTLS(ctx, targets.sec)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addrs, err := targets.resolve(ctx, e)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range addrs {
		if err := act(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runChaosPause(ctx context.Context, e *env, args []string) error {
	return pauseAll(ctx, e, "pause-replication", args, true)
}

func runChaosResume(ctx context.Context, e *env, args []string) error {
	return pauseAll(ctx, e, "resume-replication", args, false)
}

func runChaosStatus(ctx context.Context, e *env, args []string) error {
	fs, timeout := chaosFlags(e, "fault-status")
	targets := addStoreTargets(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return eachStore(ctx, e, targets, *timeout, func(ctx context.Context, a string) error {
		st, err := chaos.StoreFaults(ctx, a)
		if err != nil {
			return err
		}
		paused := "no"
		if !st.XDCPausedUntil.IsZero() {
			paused = "until " + st.XDCPausedUntil.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(e.stdout, "%s: skew %s, cross-DC replication paused: %s\n", a, st.Skew, paused)
		return nil
	})
}

// runChaosProxy runs a proxy and its control API until SIGINT or SIGTERM.
func runChaosProxy(ctx context.Context, e *env, args []string) error {
	fs, _ := chaosFlags(e, "proxy")
	listen := fs.String("listen", "", "address clients dial instead of the target, e.g. 127.0.0.1:7422")
	to := fs.String("to", "", "the target's address, e.g. 127.0.0.1:7422's real server")
	control := fs.String("control", "", "loopback address of the HTTP control API, e.g. 127.0.0.1:7000")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *listen == "" || *to == "" || *control == "" {
		return fmt.Errorf("%w: --listen, --to and --control are required", errUsage)
	}
	if _, err := chaos.NewProxyClient(*control); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	p := chaos.NewProxy(*to)
	if err := p.Start(ctx, *listen); err != nil {
		return err
	}
	defer p.Shutdown()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *control)
	if err != nil {
		return fmt.Errorf("chaos proxy: control: %w", err)
	}
	srv := &http.Server{Handler: chaos.ProxyControl(p), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	var serveErr error
	go func() { serveErr = srv.Serve(ln); close(done) }()
	fmt.Fprintf(e.stdout, "vasto chaos proxy ready: %s -> %s, control http://%s\n", p.Addr(), *to, ln.Addr())
	fmt.Fprintln(e.stdout, "  stop with Ctrl-C")
	select {
	case <-ctx.Done():
	case <-done:
		return fmt.Errorf("chaos proxy: control: %w", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	return err
}

// proxyCmd parses a command acting on a proxy's control API and runs act.
func proxyCmd(ctx context.Context, e *env, name string, args []string, define func(fs *flag.FlagSet),
	act func(c *chaos.ProxyClient, ctx context.Context) (chaos.ProxyStatus, error)) error {
	fs, timeout := chaosFlags(e, name)
	control := fs.String("proxy", "", "the proxy's control address (its --control), e.g. 127.0.0.1:7000")
	if define != nil {
		define(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *control == "" {
		return fmt.Errorf("%w: --proxy is required", errUsage)
	}
	c, err := chaos.NewProxyClient(*control)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	st, err := act(c, ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "proxy %s -> %s: cut=%t latency=%s bandwidth=%d B/s\n", st.Listen, st.Target, st.Cut,
		time.Duration(st.LatencyNS), st.BytesPerSec)
	return nil
}

func runChaosCut(ctx context.Context, e *env, args []string) error {
	return proxyCmd(ctx, e, "cut", args, nil, (*chaos.ProxyClient).Cut)
}

func runChaosRestore(ctx context.Context, e *env, args []string) error {
	return proxyCmd(ctx, e, "restore", args, nil, (*chaos.ProxyClient).Restore)
}

func runChaosFast(ctx context.Context, e *env, args []string) error {
	return proxyCmd(ctx, e, "fast", args, nil, (*chaos.ProxyClient).Fast)
}

func runChaosSlow(ctx context.Context, e *env, args []string) error {
	var latency *time.Duration
	var bandwidth *int64
	return proxyCmd(ctx, e, "slow", args, func(fs *flag.FlagSet) {
		latency = fs.Duration("latency", 0, "delay added to every chunk, each direction, e.g. 100ms")
		bandwidth = fs.Int64("bandwidth", 0, "cap of each direction of each connection, bytes per second (0: none)")
	}, func(c *chaos.ProxyClient, ctx context.Context) (chaos.ProxyStatus, error) {
		if *latency < 0 || *bandwidth < 0 {
			return chaos.ProxyStatus{}, fmt.Errorf("%w: --latency and --bandwidth must not be negative", errUsage)
		}
		return c.Slow(ctx, *latency, *bandwidth)
	})
}

// parseDCs parses dc1=nats://...,dc2=nats://....
func parseDCs(s string) ([]chaos.DC, error) {
	list, err := parseDCURLList("dcs", s)
	if err != nil {
		return nil, err
	}
	out := make([]chaos.DC, 0, len(list))
	for _, p := range list {
		dc, err := chaosDC(p.dc, p.url)
		if err != nil {
			return nil, err
		}
		out = append(out, dc)
	}
	return out, nil
}

// chaosDC is a DC whose topology a chaos command reads, with the NATS
// credentials and TLS settings of the environment (VASTO_NATS_CREDS,
// VASTO_TLS_CA, VASTO_TLS_CERT, VASTO_TLS_KEY).
func chaosDC(name, url string) (chaos.DC, error) {
	files := secure.TLSFiles{CertFile: envOr("VASTO_TLS_CERT", ""), KeyFile: envOr("VASTO_TLS_KEY", ""), CAFile: envOr("VASTO_TLS_CA", "")}
	dc := chaos.DC{Name: name, NATSURL: url, NATSCreds: envOr("VASTO_NATS_CREDS", "")}
	if files.Enabled() {
		cfg, err := files.Client()
		if err != nil {
			return chaos.DC{}, fmt.Errorf("%w: %w", errUsage, err)
		}
		dc.NATSTLS = cfg
	}
	return dc, nil
}

func runChaosVerify(ctx context.Context, e *env, args []string) error {
	fs, timeout := chaosFlags(e, "verify")
	dcs := fs.String("dcs", envOr("VASTO_DCS", ""), "the DCs to compare: dc1=nats://...,dc2=nats://... (env VASTO_DCS)")
	maxKeys := fs.Int("max-keys", chaos.DefaultMaxDiffKeys, "differing keys listed per comparison")
	sec := addSecurity(fs)
	var keyspace string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		keyspace, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if keyspace == "" || *dcs == "" {
		return fmt.Errorf("%w: vasto chaos verify KEYSPACE --dcs dc1=URL,dc2=URL", errUsage)
	}
	list, err := parseDCs(*dcs)
	if err != nil {
		return err
	}
	if ctx, err = withStoreTLS(ctx, sec); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := chaos.Verify(ctx, chaos.VerifyConfig{DCs: list, Keyspace: keyspace, MaxDiffKeys: *maxKeys,
		Logger: e.rootLogger().Named("chaos")})
	if err != nil {
		return err
	}
	if err := rep.WriteTable(e.stdout); err != nil {
		return err
	}
	if !rep.Converged() {
		return fmt.Errorf("keyspace %s: %w", keyspace, errNotConverged)
	}
	return nil
}
