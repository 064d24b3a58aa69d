package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/vasto-kv/vasto/store"
)

// runStore runs a store in the foreground until SIGINT or SIGTERM.
func runStore(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "./data/store", "data directory")
	listen := fs.String("listen", "127.0.0.1:6380", "address to serve the Redis protocol on")
	dc := fs.String("dc", envOr("VASTO_DC", "dc1"), "datacenter name (env VASTO_DC)")
	node := fs.String("node", "", "store name in write versions (default: derived from the listen port)")
	sync := fs.Bool("sync", false, "fsync the write-ahead log before acknowledging each commit")
	keyspace := fs.String("keyspace", store.DefaultKeyspace, "keyspace served when running alone (one shard)")
	grace := fs.Duration("tombstone-grace", 24*time.Hour, "how long tombstones are kept before compaction may purge them")
	maxFuture := fs.Duration("max-future", 5*time.Second, "reject event times further than this ahead of the local clock")
	cacheMB := fs.Uint64("block-cache-mb", 256, "block cache shared by all shards, MiB")
	logLevel := fs.String("log-level", e.logLevel, "log level: trace, debug, info, warn, error")
	pprofAddr := fs.String("pprof", "", "serve Go profiling (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	e.logLevel = *logLevel
	log := e.rootLogger()
	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr, log.Named("pprof"))
		if err != nil {
			return err
		}
		defer stop()
	}

	cfg := store.DefaultConfig(*dir)
	cfg.DC, cfg.Sync, cfg.TombstoneGrace, cfg.MaxFuture = *dc, *sync, *grace, *maxFuture
	cfg.BlockCacheBytes = *cacheMB << 20
	cfg.Node = *node
	if cfg.Node == "" {
		cfg.Node = nodeName(*listen)
	}
	cfg.Logger = log.Named("store")
	eng, err := store.Open(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := eng.Close(); err != nil {
			log.Error("close engine", "error", err)
		}
	}()
	if _, err := eng.EnsureShard(*keyspace, 0); err != nil {
		return err
	}
	scfg := store.DefaultServerConfig(*listen, eng)
	scfg.Logger = log.Named("store")
	srv, err := store.NewServer(scfg)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	fmt.Fprintf(e.stdout, "vasto store %s/%s ready on %s (data in %s, sync=%t)\n", cfg.DC, cfg.Node, srv.Addr(), *dir, *sync)
	fmt.Fprintf(e.stdout, "  try: redis-cli -p %s SET hello world && redis-cli -p %s GET hello\n", port, port)
	fmt.Fprintln(e.stdout, "  stop with Ctrl-C")
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// nodeName derives a stable store name from a listen address.
func nodeName(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "store"
	}
	return "store-" + port
}
