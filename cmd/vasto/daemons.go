package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/internal/devcluster"
	"github.com/vasto-kv/vasto/internal/metrics"
	"github.com/vasto-kv/vasto/master"
)

// runNATS runs the embedded NATS server (JetStream, domain = DC) alone.
func runNATS(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dc := fs.String("dc", envOr("VASTO_DC", "dc1"), "datacenter name, also the JetStream domain (env VASTO_DC)")
	dir := fs.String("dir", "./data/nats", "JetStream storage directory")
	listen := fs.String("listen", "127.0.0.1:4222", "client address")
	leafListen := fs.String("leaf-listen", "", "accept leafnode connections from other DCs on host:port")
	leafRemote := fs.String("leaf-remote", "", "link to another DC's NATS: its nats-leaf://host:port (comma-separated for one DC's several servers)")
	clusterListen := fs.String("cluster-listen", "", "form a NATS cluster of the DC's servers (3 or 5, for --replicas 3): accept route connections from them on host:port")
	routes := fs.String("routes", "", "the DC's other NATS servers: comma-separated nats-route://host:port of their --cluster-listen (this server's own may be listed too)")
	clusterName := fs.String("cluster-name", "", "name of the DC's NATS cluster, the same on every server (default vasto-DC)")
	serverName := fs.String("name", "", "this server's name, unique in the DC (default vasto-DC, or vasto-DC-PORT with --cluster-listen)")
	monitorListen := fs.String("monitor-listen", "", "serve nats-server's HTTP monitoring endpoints (/varz, /jsz, /leafz...) on host:port (empty: off)")
	authConfig := fs.String("auth-config", envOr("VASTO_NATS_AUTH_CONFIG", ""), "admit only the users of this nats-server authorization config, each with its permissions (written by 'vasto auth init') (env VASTO_NATS_AUTH_CONFIG)")
	leafCreds := fs.String("leaf-creds", envOr("VASTO_LEAF_CREDS", ""), "nkey seed file presented on --leaf-remote: the remote DC's leaf.nk (env VASTO_LEAF_CREDS)")
	sec := addSecurity(fs)
	metricsAddr := metricsFlag(fs)
	logLevel := fs.String("log-level", e.logLevel, "log level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tlsFiles, err := sec.tls()
	if err != nil {
		return err
	}
	if flagSet(fs, "nats-creds") {
		return fmt.Errorf("%w: the NATS server takes --leaf-creds for its leafnode link, not --nats-creds", errUsage)
	}
	e.logLevel = *logLevel
	log := e.rootLogger()
	_, stopMetrics, err := serveMetrics(ctx, e, *metricsAddr, log.Named("metrics"))
	if err != nil {
		return err
	}
	defer stopMetrics()
	host, port, err := splitHostPort(*listen)
	if err != nil {
		return err
	}
	cfg := embedded.DefaultConfig(*dc, *dir)
	if port == 0 {
		port = -1 // any free port
	}
	cfg.Host, cfg.Port, cfg.LeafListen, cfg.Logger = host, port, *leafListen, log.Named("nats")
	cfg.MonitorListen = *monitorListen
	if err := clusterConfig(&cfg, *clusterListen, *routes, *clusterName, *serverName, port); err != nil {
		return err
	}
	cfg.TLS, cfg.AuthConfig, cfg.LeafCreds = tlsFiles, *authConfig, *leafCreds
	if *leafRemote != "" {
		cfg.LeafRemotes = []string{*leafRemote}
	}
	ns, err := embedded.New(cfg)
	if err != nil {
		return err
	}
	if err := ns.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "vasto nats for %s ready: --nats %s --dc %s\n", *dc, ns.ClientURL(), *dc)
	if cfg.TLS.Enabled() {
		fmt.Fprintf(e.stdout, "  TLS only (client certificates required: %t)\n", cfg.TLS.ClientAuth)
	}
	if cfg.AuthConfig != "" {
		fmt.Fprintf(e.stdout, "  users of %s only: connect with --nats-creds FILE\n", cfg.AuthConfig)
	}
	if u := ns.RouteURL(); u != "" {
		fmt.Fprintf(e.stdout, "  server %s of cluster %s, routes on %s\n", cfg.Name, cfg.ClusterName, u)
	}
	if u := ns.MonitorURL(); u != "" {
		fmt.Fprintf(e.stdout, "nats monitoring on %s/varz\n", u)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ns.Shutdown(sctx)
}

// clusterConfig adds the cluster flags of 'vasto nats' to cfg; port is
// the client port (-1: random), used in the default server name.
func clusterConfig(cfg *embedded.Config, listen, routes, name, serverName string, port int) error {
	if serverName != "" {
		cfg.Name = serverName
	}
	if listen == "" {
		if routes != "" || name != "" {
			return fmt.Errorf("%w: --routes and --cluster-name need --cluster-listen", errUsage)
		}
		return nil
	}
	if name == "" {
		name = "vasto-" + cfg.DC
	}
	cfg.ClusterListen, cfg.ClusterName = listen, name
	for _, r := range strings.Split(routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	if len(cfg.Routes) == 0 {
		return fmt.Errorf("%w: --cluster-listen needs --routes: the other servers of the DC's cluster", errUsage)
	}
	if cfg.Name == "" {
		if port < 0 {
			return fmt.Errorf("%w: a clustered server on a random port needs --name", errUsage)
		}
		cfg.Name = "vasto-" + cfg.DC + "-" + strconv.Itoa(port)
	}
	return nil
}

// runMaster runs the DC's master.
func runMaster(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	logLevel := fs.String("log-level", e.logLevel, "log level")
	autoRecover := fs.Duration("auto-recover-after", master.DefaultAutoRecoverAfter,
		"recover keyspaces the topology lost from the shards the stores hold once their reports are stable this long; negative: only with 'vasto keyspace recover'")
	replicas := replicasFlag(fs)
	metricsAddr := metricsFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *replicas < 1 || *replicas > bus.MaxReplicas {
		return fmt.Errorf("%w: --replicas must be 1..%d", errUsage, bus.MaxReplicas)
	}
	if *autoRecover == 0 {
		return fmt.Errorf("%w: --auto-recover-after must be positive, or negative to disable", errUsage)
	}
	e.logLevel = *logLevel
	log := e.rootLogger()
	ccfg, err := c.connConfig("vasto-master-"+*c.dc, log.Named("bus"))
	if err != nil {
		return err
	}
	ccfg.Replicas = *replicas
	conn, err := bus.Connect(ctx, ccfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := master.DefaultConfig(*c.dc, conn)
	cfg.Logger = log
	cfg.AutoRecoverAfter = *autoRecover
	m, err := master.New(cfg)
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	reg, stopMetrics, err := serveMetrics(ctx, e, *metricsAddr, log.Named("metrics"))
	if err == nil && reg != nil {
		_, err = metrics.NewMaster(reg, *c.dc, m.Topology)
		if err == nil {
			_, err = metrics.NewChangeLog(reg, *c.dc, changeLogReader(conn, *c.dc))
		}
	}
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(sctx)
		return err
	}
	defer stopMetrics()
	fmt.Fprintf(e.stdout, "vasto master for %s ready on %s\n", *c.dc, *c.nats)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Shutdown(sctx)
}

// runDev runs whole DCs in one process: per DC an embedded NATS (linked to
// the first DC's by a leafnode), the master and N stores.
func runDev(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "./data/dev", "data directory (NATS and every store); reuse it to keep the data")
	stores := fs.Int("stores", 3, "stores per DC")
	dcs := fs.Int("dcs", 1, "number of DCs (dc1, dc2, ...), linked by NATS leafnodes, replicating active-active")
	natsPort := fs.Int("nats-port", 4222, "NATS client port of dc1; dcN uses +100*(N-1) (0: any free port)")
	storePort := fs.Int("store-port", 6380, "RESP port of dc1's first store; the others follow, +100 per DC (0: any free ports)")
	gatewayPort := fs.Int("gateway-port", 6370, "RESP port of dc1's gateway (one Redis endpoint for the DC; not 6379, where a Redis server may run), +100 per DC (0: any free port; -1: no gateway)")
	logLevel := fs.String("log-level", envOr("VASTO_LOG_LEVEL", "warn"), "log level")
	allowFaults := fs.Bool("allow-faults", false, "accept fault injection (VFAULT, 'vasto chaos') for drills; a VFAULT CRASH ends this whole process. Never in production")
	secured := fs.Bool("secure", false, "turn every security feature on, with throwaway credentials generated in DIR/secure: mutual TLS on every port and dial, one NATS user per role, RESP users with ACLs")
	metricsAddr := metricsFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dcs < 1 || *dcs > 9 || *stores < 1 {
		return fmt.Errorf("%w: --dcs must be 1..9 and --stores positive", errUsage)
	}
	e.logLevel = *logLevel
	cfg := devcluster.DefaultConfig(*dir)
	cfg.Stores, cfg.NATSPort, cfg.FirstStorePort = *stores, *natsPort, *storePort
	cfg.AllowFaults = *allowFaults
	cfg.Gateway, cfg.GatewayPort = *gatewayPort >= 0, max(*gatewayPort, 0)
	cfg.Logger = e.rootLogger()
	var sec devSecurity
	if *secured {
		var err error
		if sec, err = setupDevSecurity(*dir); err != nil {
			return err
		}
		sec.apply(&cfg)
		fmt.Fprintf(e.stdout, "secured: TLS certificates, NATS users and RESP users in %s\n", sec.dir)
	}
	// One registry for the whole process: every DC's master and stores,
	// told apart by their dc and store labels.
	reg, stopMetrics, err := serveMetrics(ctx, e, *metricsAddr, cfg.Logger.Named("metrics"))
	if err != nil {
		return err
	}
	defer stopMetrics()
	cfg.Metrics = reg
	names := make([]string, *dcs)
	for i := range names {
		names[i] = "dc" + strconv.Itoa(i+1)
	}
	fmt.Fprintf(e.stdout, "starting %d DC(s) with %d stores each in %s ...\n", *dcs, *stores, *dir)
	var clusters []*devcluster.Cluster
	if *dcs == 1 {
		cfg.DC = envOr("VASTO_DC", "dc1")
		names[0] = cfg.DC
		var c *devcluster.Cluster
		c, err = devcluster.Start(ctx, cfg)
		clusters = []*devcluster.Cluster{c}
	} else {
		clusters, err = devcluster.StartMulti(ctx, cfg, names)
	}
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := len(clusters) - 1; i >= 0; i-- {
			if err := clusters[i].Shutdown(sctx); err != nil {
				fmt.Fprintln(e.stderr, "shutdown:", err)
			}
		}
		fmt.Fprintln(e.stdout, "stopped")
	}()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, c := range clusters {
		if err := c.WaitReady(rctx); err != nil {
			return err
		}
	}
	fmt.Fprintln(e.stdout, "ready.")
	for _, c := range clusters {
		fmt.Fprintf(e.stdout, "%s: --nats %s --dc %s\n", c.DC(), c.NATSURL(), c.DC())
		for _, st := range c.Stores() {
			fmt.Fprintf(e.stdout, "  %-8s %s\n", st.ID, st.Addr)
		}
		if addr := c.GatewayAddr(); addr != "" {
			fmt.Fprintf(e.stdout, "  %-8s %s   (Redis endpoint for the whole DC)\n", "gateway", addr)
		}
	}
	first := clusters[0]
	fmt.Fprintf(e.stdout, "\nuse it from another terminal:\n")
	if *secured {
		sec.printUsage(e.stdout, first)
	} else {
		fmt.Fprintf(e.stdout, "  export VASTO_NATS=%s VASTO_DC=%s\n", first.NATSURL(), first.DC())
	}
	fmt.Fprintf(e.stdout, "  vasto keyspace create users --shards 3 --replicas 2\n")
	fmt.Fprintf(e.stdout, "  vasto put users alice 42 && vasto get users alice\n")
	if len(clusters) > 1 {
		second := clusters[1]
		at := fmt.Sprintf("--nats %s --dc %s", second.NATSURL(), second.DC())
		if *secured {
			at += " --nats-creds " + second.Creds(bus.RoleAdmin, "")
		}
		fmt.Fprintf(e.stdout, "  vasto keyspace create users --shards 2 --replicas 1 %s\n", at)
		fmt.Fprintf(e.stdout, "  vasto get users alice %s      # replicated from %s\n", at, first.DC())
		var others []string
		for _, c := range clusters[1:] {
			others = append(others, c.DC())
		}
		fmt.Fprintf(e.stdout, "  vasto dc status --remote-dcs %s\n", strings.Join(others, ","))
	}
	fmt.Fprintf(e.stdout, "  vasto bench --keyspace users -n 100000 -c 50\n")
	if addr := first.GatewayAddr(); addr != "" {
		_, port, _ := net.SplitHostPort(addr)
		fmt.Fprintf(e.stdout, "  vasto keyspace create default --shards 3 --replicas 2   # the gateway's default keyspace\n")
		if *secured {
			tf := sec.tls.Client()
			fmt.Fprintf(e.stdout, "  redis-cli --tls --cacert %s --cert %s --key %s -p %s --user app --askpass   # any Redis client, through %s's gateway\n",
				tf.CAFile, tf.CertFile, tf.KeyFile, port, first.DC())
		} else {
			fmt.Fprintf(e.stdout, "  redis-cli -p %s SET k v && redis-cli -p %s GET k   # any Redis client, through %s's gateway\n", port, port, first.DC())
		}
	}
	fmt.Fprintf(e.stdout, "stop with Ctrl-C\n")
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "stopping ...")
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: address %q: %w", errUsage, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("%w: port %q", errUsage, p)
	}
	return host, port, nil
}

// flagSet reports whether the flag name was given on the command line (or
// in the config file).
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
