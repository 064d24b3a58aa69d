package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/internal/metrics"
)

// metricsFlag adds --metrics-listen to a daemon's flags.
func metricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics-listen", envOr("VASTO_METRICS_LISTEN", ""),
		"serve Prometheus metrics on http://ADDR/metrics, e.g. 127.0.0.1:9100 (env VASTO_METRICS_LISTEN; empty: off)")
}

// serveMetrics starts the process's metrics registry and its HTTP server
// on addr. With an empty addr it returns a nil registry and a stop that
// does nothing.
func serveMetrics(ctx context.Context, e *env, addr string, log hclog.Logger) (*metrics.Registry, func(), error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	reg := metrics.NewRegistry()
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: addr, Registry: reg, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --metrics-listen: %w", errUsage, err)
	}
	if err := srv.Start(ctx); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(e.stdout, "metrics on http://%s/metrics\n", srv.Addr())
	return reg, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("stop metrics server", "error", err)
		}
	}, nil
}

// diagFlags are the flags of a server process's log level and its
// profiling (pprof) and metrics endpoints.
type diagFlags struct{ logLevel, pprof, metrics *string }

// addDiagFlags defines --log-level, --pprof (pprofExample: an address for
// its help) and --metrics-listen.
func addDiagFlags(fs *flag.FlagSet, e *env, pprofExample string) diagFlags {
	return diagFlags{
		logLevel: fs.String("log-level", e.logLevel, "log level: trace, debug, info, warn, error"),
		pprof:    fs.String("pprof", "", "serve Go profiling (net/http/pprof) on this loopback address, e.g. "+pprofExample),
		metrics:  metricsFlag(fs),
	}
}

// start sets the process's log level, makes its root logger and starts the
// profiling and metrics endpoints asked for (an empty address: none). The
// registry is nil without metrics; stop ends both endpoints, metrics first.
func (d diagFlags) start(ctx context.Context, e *env) (hclog.Logger, *metrics.Registry, func(), error) {
	logLevel, pprofAddr, metricsAddr := *d.logLevel, *d.pprof, *d.metrics
	e.logLevel = logLevel
	log := e.rootLogger()
	stopPprof := func() {}
	if pprofAddr != "" {
		stop, err := servePprof(pprofAddr, log.Named("pprof"))
		if err != nil {
			return nil, nil, nil, err
		}
		stopPprof = stop
	}
	reg, stopMetrics, err := serveMetrics(ctx, e, metricsAddr, log.Named("metrics"))
	if err != nil {
		stopPprof()
		return nil, nil, nil, err
	}
	return log, reg, func() {
		stopMetrics()
		stopPprof()
	}, nil
}
