package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/vasto-kv/vasto/gateway"
	"github.com/vasto-kv/vasto/internal/metrics"
)

// runGateway runs a gateway, one Redis endpoint for a whole DC, in the
// foreground until SIGINT or SIGTERM.
func runGateway(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	listen := fs.String("listen", "127.0.0.1:6370", "address to serve the Redis protocol on")
	keyspace := fs.String("keyspace", gateway.DefaultKeyspace, "keyspace of a new connection (VUSE keyspace picks another)")
	poolSize := fs.Int("pool-size", gateway.DefaultPoolSize, "dedicated connections per store for calls that wait server-side (acks above local, AFTER reads, hedges); other calls share pipelined ones")
	timeout := fs.Duration("request-timeout", gateway.DefaultRequestTimeout, "bound on one batch of commands, retries included")
	writeTimeout := fs.Duration("write-timeout", gateway.DefaultWriteTimeout, "disconnect a client that reads no replies for this long")
	maxBatches := fs.Int("max-batches", gateway.DefaultMaxBatches, "merged batches in flight; connections' batches that arrive meanwhile are merged into one pipeline per store")
	maxKeys := fs.Int("max-keys", gateway.DefaultMaxKeys, "most keys one KEYS command may look at (use SCAN beyond)")
	aclFile := fs.String("acl-file", envOr("VASTO_ACL_FILE", ""), "ACL file of the gateway's RESP users (vasto acl hash writes lines); reloaded on SIGHUP; empty: no authentication (env VASTO_ACL_FILE). The gateway reaches the stores as --user with --password-file")
	diag := addDiagFlags(fs, e, "127.0.0.1:6061")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	serverTLS, err := c.sec.serverTLS()
	if err != nil {
		return err
	}
	storeTLS, err := c.sec.clientTLS()
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
	pw, err := c.sec.password(false)
	if err != nil {
		return err
	}
	cfg := gateway.DefaultConfig(*listen, *c.nats, *c.dc)
	cfg.ACL = users
	cfg.Client.Username, cfg.Client.Password = *c.sec.user, pw.Reveal()
	cfg.Keyspace, cfg.Logger = *keyspace, log
	if cfg.Client.NATSCreds, cfg.Client.NATSTLS, err = c.sec.natsClient(); err != nil {
		return err
	}
	cfg.Client.PoolSize, cfg.RequestTimeout, cfg.WriteTimeout, cfg.MaxKeys = *poolSize, *timeout, *writeTimeout, *maxKeys
	cfg.MaxBatches = *maxBatches
	cfg.TLS, cfg.Client.TLS = serverTLS, storeTLS
	if reg != nil {
		gm, err := metrics.NewGateway(reg, *c.dc)
		if err != nil {
			return err
		}
		defer gm.Close()
		cfg.Observer = gm.Observer()
	}
	g, err := gateway.New(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = g.Start(sctx)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(sctx); err != nil {
			log.Error("stop gateway", "error", err)
		}
	}()
	defer reloadACL(ctx, e, log, *aclFile, g.SetACL)()
	_, port, _ := net.SplitHostPort(g.Addr().String())
	fmt.Fprintf(e.stdout, "vasto gateway for %s ready on %s (keyspace %s)\n", *c.dc, g.Addr(), *keyspace)
	fmt.Fprintf(e.stdout, "  try: redis-cli -p %s SET hello world && redis-cli -p %s GET hello\n", port, port)
	fmt.Fprintln(e.stdout, "  stop with Ctrl-C")
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
