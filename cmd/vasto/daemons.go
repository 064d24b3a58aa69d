package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/bus/embedded"
	"github.com/vasto-kv/vasto/internal/devcluster"
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
	logLevel := fs.String("log-level", e.logLevel, "log level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e.logLevel = *logLevel
	log := e.rootLogger()
	host, port, err := splitHostPort(*listen)
	if err != nil {
		return err
	}
	cfg := embedded.DefaultConfig(*dc, *dir)
	cfg.Host, cfg.Port, cfg.LeafListen, cfg.Logger = host, port, *leafListen, log.Named("nats")
	ns, err := embedded.New(cfg)
	if err != nil {
		return err
	}
	if err := ns.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "vasto nats for %s ready: --nats %s --dc %s\n", *dc, ns.ClientURL(), *dc)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ns.Shutdown(sctx)
}

// runMaster runs the DC's master.
func runMaster(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	logLevel := fs.String("log-level", e.logLevel, "log level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e.logLevel = *logLevel
	log := e.rootLogger()
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: *c.nats, Name: "vasto-master-" + *c.dc, Logger: log.Named("bus")})
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := master.DefaultConfig(*c.dc, conn)
	cfg.Logger = log
	m, err := master.New(cfg)
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "vasto master for %s ready on %s\n", *c.dc, *c.nats)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Shutdown(sctx)
}

// runDev runs a whole DC in one process: NATS, the master and N stores.
func runDev(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "./data/dev", "data directory (NATS and every store); reuse it to keep the data")
	stores := fs.Int("stores", 3, "number of stores")
	dc := fs.String("dc", envOr("VASTO_DC", "dc1"), "datacenter name")
	natsPort := fs.Int("nats-port", 4222, "NATS client port (0: any free port)")
	storePort := fs.Int("store-port", 6380, "RESP port of the first store; the others follow (0: any free ports)")
	logLevel := fs.String("log-level", envOr("VASTO_LOG_LEVEL", "warn"), "log level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e.logLevel = *logLevel
	cfg := devcluster.DefaultConfig(*dir)
	cfg.DC, cfg.Stores, cfg.NATSPort, cfg.FirstStorePort = *dc, *stores, *natsPort, *storePort
	cfg.Logger = e.rootLogger()
	fmt.Fprintf(e.stdout, "starting %s: NATS, master and %d stores in %s ...\n", *dc, *stores, *dir)
	c, err := devcluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Shutdown(sctx); err != nil {
			fmt.Fprintln(e.stderr, "shutdown:", err)
		}
		fmt.Fprintln(e.stdout, "stopped")
	}()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitReady(rctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ready. NATS %s, DC %s\n", c.NATSURL(), *dc)
	for _, st := range c.Stores() {
		fmt.Fprintf(e.stdout, "  %-8s %s\n", st.ID, st.Addr)
	}
	fmt.Fprintf(e.stdout, "\nuse it from another terminal:\n")
	fmt.Fprintf(e.stdout, "  export VASTO_NATS=%s VASTO_DC=%s\n", c.NATSURL(), *dc)
	fmt.Fprintf(e.stdout, "  vasto keyspace create users --shards 3 --replicas 2\n")
	fmt.Fprintf(e.stdout, "  vasto put users alice 42 && vasto get users alice\n")
	fmt.Fprintf(e.stdout, "  vasto bench --keyspace users -n 100000 -c 50\n")
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
