package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/internal/storenode"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// runStore runs a store in the foreground until SIGINT or SIGTERM. Without
// --nats it runs alone and serves a default keyspace of one shard; with
// --nats it joins its DC's cluster and serves the shards the master places
// on it. `vasto store list` lists the stores of a DC instead, and `vasto
// store replace|drain` moves a store's shard replicas elsewhere.
func runStore(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch {
		case isHelp(args[0]) && len(args) == 1:
			groupHelp(e.stdout, "store")
			fmt.Fprintln(e.stdout, "\nflags of a running store:")
		case !strings.HasPrefix(args[0], "-") && args[0] != "list" && args[0] != "replace" && args[0] != "drain":
			return unknownSub("store", args[0])
		}
		switch args[0] {
		case "list":
			return runStoreList(ctx, e, args[1:])
		case "replace":
			return runStoreReplace(ctx, e, args[1:])
		case "drain":
			return runStoreDrain(ctx, e, args[1:])
		}
	}
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "./data/store", "data directory")
	listen := fs.String("listen", "127.0.0.1:6380", "address to serve the Redis protocol on")
	advertise := fs.String("advertise", "", "address clients dial (default: the listen address)")
	natsURL := fs.String("nats", envOr("VASTO_NATS", ""), "NATS URL of the DC to join, or comma-separated URLs of its NATS cluster's servers (env VASTO_NATS); empty: run alone")
	dc := fs.String("dc", envOr("VASTO_DC", "dc1"), "datacenter name (env VASTO_DC)")
	node := fs.String("id", "", "store id, unique in the DC (default: derived from the listen port)")
	remoteDCs := fs.String("remote-dcs", envOr("VASTO_REMOTE_DCS", ""), "comma-separated other DCs whose changes to apply (env VASTO_REMOTE_DCS)")
	fillRate := fs.Int64("resize-rate", 0, "bytes per second one resize fill may copy into this store (0: no limit); lower leaves more CPU to clients")
	sync := fs.Bool("sync", false, "fsync the write-ahead log before acknowledging each commit")
	keyspace := fs.String("keyspace", server.DefaultKeyspace, "keyspace served when running alone (one shard)")
	grace := fs.Duration("tombstone-grace", 24*time.Hour, "how long tombstones are kept before compaction may purge them")
	maxFuture := fs.Duration("max-future", 5*time.Second, "reject event times further than this ahead of the local clock")
	memMB := fs.Uint64("memory-budget", 512, "MiB of memory all shards share: one block cache that memtables are charged to")
	memtableMB := fs.Uint64("memtable-budget", 0, "MiB of the memory budget the memtables of all shards may take before the shard written flushes (0: half)")
	cacheMB := fs.Uint64("block-cache-mb", 0, "deprecated name of --memory-budget")
	maxOpenFiles := fs.Int("max-open-files", 0, "open files all shards may hold; creating a shard past it fails (0: 4/5 of ulimit -n)")
	shardOpenFiles := fs.Int("shard-open-files", 10, "table files one shard keeps open (at least 10)")
	writeTimeout := fs.Duration("write-timeout", server.DefaultWriteTimeout, "disconnect a client that reads no replies for this long")
	aclFile := fs.String("acl-file", envOr("VASTO_ACL_FILE", ""), "ACL file of the RESP users (vasto acl hash writes lines); reloaded on SIGHUP; empty: no authentication (env VASTO_ACL_FILE)")
	allowFaults := fs.Bool("allow-faults", false, "accept fault injection (VFAULT: clock skew, crash, pausing cross-DC replication; 'vasto chaos') for drills. Never in production")
	retention := addRetentionFlags(fs)
	sec := addSecurity(fs)
	diag := addDiagFlags(fs, e, "127.0.0.1:6060")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tlsFiles, peerPassword, err := sec.store()
	if err != nil {
		return err
	}
	natsCreds, natsTLS, err := sec.natsClient()
	if err != nil {
		return err
	}
	log, reg, stopDiag, err := diag.start(ctx, e)
	if err != nil {
		return err
	}
	defer stopDiag()
	users, err := loadACL(*aclFile)
	if err != nil {
		return err
	}

	cfg := storenode.DefaultConfig(*dir, *listen)
	cfg.ACL = users
	cfg.Engine.DC, cfg.Engine.Sync, cfg.Engine.TombstoneGrace, cfg.Engine.MaxFuture = *dc, *sync, *grace, *maxFuture
	cfg.Engine.BlockCacheBytes = *memMB << 20
	if *cacheMB != 0 {
		cfg.Engine.BlockCacheBytes = *cacheMB << 20
	}
	cfg.Engine.MemtableBytes = *memtableMB << 20
	cfg.Engine.MaxOpenFiles, cfg.Engine.ShardOpenFiles = *maxOpenFiles, *shardOpenFiles
	cfg.Engine.Node = *node
	if cfg.Engine.Node == "" {
		cfg.Engine.Node = nodeName(*listen)
	}
	cfg.Advertise = *advertise
	cfg.WriteTimeout = *writeTimeout
	cfg.Keyspace = *keyspace
	cfg.NATSURL = *natsURL
	cfg.NATSCreds, cfg.NATSTLS = natsCreds, natsTLS
	if *remoteDCs != "" {
		cfg.RemoteDCs = strings.Split(*remoteDCs, ",")
	}
	if cfg.Stream, err = retention.streamConfig(); err != nil {
		return err
	}
	cfg.FillRate = *fillRate
	cfg.AllowFaults = *allowFaults
	cfg.TLS, cfg.PeerUser, cfg.PeerPassword = tlsFiles, *sec.user, peerPassword
	cfg.Logger, cfg.BusLogger = log.Named("store"), log.Named("bus")
	cfg.Metrics = reg
	sn, err := storenode.New(cfg)
	if err != nil {
		return err
	}
	// Shutdown stops the server first (no new writes; connections that do
	// not drain within the server's drain timeout are closed), then the
	// agent drains the change logs, then the engine closes.
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := sn.Shutdown(sctx); err != nil {
			log.Error("stop store", "error", err)
		}
	}()
	if err := sn.Start(ctx); err != nil {
		return err
	}
	defer reloadACL(ctx, e, log, *aclFile, sn.SetACL)()
	addr := sn.AdvertisedAddr()
	if *natsURL != "" {
		fmt.Fprintf(e.stdout, "vasto store %s/%s ready on %s, joined %s\n", cfg.Engine.DC, cfg.Engine.Node, addr, *natsURL)
	} else {
		logKeptChangeLogs(log, sn.Engine())
		_, port, _ := net.SplitHostPort(sn.Addr())
		fmt.Fprintf(e.stdout, "vasto store %s/%s ready on %s (data in %s, sync=%t)\n", cfg.Engine.DC, cfg.Engine.Node, addr, *dir, *sync)
		fmt.Fprintf(e.stdout, "  try: redis-cli -p %s SET hello world && redis-cli -p %s GET hello\n", port, port)
	}
	fmt.Fprintln(e.stdout, "  stop with Ctrl-C")
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// logKeptChangeLogs tells, for a store running alone, which shards keep
// change-log entries from an earlier run and which still log: the shards
// of a DC, whose writes must reach the other replicas when it rejoins.
func logKeptChangeLogs(log hclog.Logger, eng *store.Engine) {
	for _, id := range eng.Shards() {
		sh, err := eng.Shard(id.Keyspace, id.Shard)
		if err != nil {
			continue
		}
		first, last := sh.LogBounds()
		switch {
		case sh.Epoch() != 0:
			log.Warn("running alone with a shard of a DC: its writes are logged until the store rejoins and publishes them",
				"shard", id.String(), "log_first", first, "log_last", last)
		case last >= first:
			log.Info("change-log entries from an earlier run kept; writes made alone are not logged",
				"shard", id.String(), "log_first", first, "log_last", last)
		}
	}
}

// nodeName derives a stable store name from a listen address.
func nodeName(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "store"
	}
	return "store-" + port
}
