// Command vasto is Vasto's single binary: each subcommand runs one daemon or
// one operator action.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// subcommand is one `vasto NAME` entry point.
type subcommand struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

var subcommands = map[string]subcommand{
	"auth":     {"NATS credentials: 'auth init DIR' writes an nkey per role and the server's authorization config", runAuth},
	"dev":      {"run a whole DC in one process: NATS, the master and N stores", runDev},
	"nats":     {"run the DC's embedded NATS server (JetStream)", runNATS},
	"master":   {"run the DC's master", runMaster},
	"gateway":  {"one Redis endpoint for a whole DC: routes every key to its shard (redis-cli, redis-py, go-redis)", runGateway},
	"store":    {"run a store (alone, or joined to a DC with --nats); 'store list|replace|drain' manage a DC's stores", runStore},
	"keyspace": {"create, delete, list, describe, resize or rebalance keyspaces", runKeyspace},
	"op":       {"online operations (resize, replace, drain, rebalance): op status|wait ID", runOp},
	"put":      {"write a value: put KEYSPACE KEY VALUE", runPut},
	"get":      {"read a value: get KEYSPACE KEY (exit code 1 when not found)", runGet},
	"del":      {"delete a key: del KEYSPACE KEY", runDel},
	"scan":     {"list keys in key order: scan KEYSPACE [--prefix P]", runScan},
	"backup":   {"copy a keyspace to a directory: backup KEYSPACE --to DIR (per-shard files with versions, manifest, checksums)", runBackup},
	"restore":  {"bring a backup into the DC: restore DIR [--keyspace NAME] [--shards N] (LWW merge, then verified)", runRestore},
	"bench":    {"load a keyspace and report throughput and latency percentiles", runBench},
	"dc":       {"cross-DC replication: 'dc add/remove/list' the DC's remote DCs live, 'dc status' link, lag and last applied per remote DC", runDC},
	"acl":      {"help write an ACL file: 'acl hash' reads a password from stdin and prints its hash; 'acl check FILE'", runACL},
	"chaos":    {"fault injection for drills (stores started with --allow-faults): skew, crash, pause-replication, proxy, verify...; run and list for whole drills", runChaos},
	"version":  {"print the version", runVersion},
}

// env is what every subcommand gets from main: its streams and the root
// logger.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logLevel       string
	// hup, if set, stands for the process's SIGHUP (tests); nil: a daemon
	// that reloads a file on SIGHUP subscribes to the signal itself.
	hup <-chan os.Signal
}

// hangups is what env.hup is set to (tests set it).
var hangups <-chan os.Signal

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := (&env{stderr: os.Stderr, logLevel: envOr("VASTO_LOG_LEVEL", "info")}).rootLogger()
	redis.SetLogger(redisLogger{root.Named("redis")})
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sc, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vasto: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, logLevel: envOr("VASTO_LOG_LEVEL", "info"), hup: hangups}
	err := sc.run(ctx, e, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errNotFound):
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "vasto %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "vasto %s: %v\n", args[0], err)
		return 1
	}
}

// redisLogger takes go-redis's own log lines (its connection pools' dial
// retries, printed raw to stderr by default) into the process's log, at
// debug level: the commands report the errors that matter themselves.
type redisLogger struct{ log hclog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func usage(w io.Writer) {
	summaries := make(map[string]string, len(subcommands))
	for n, c := range subcommands {
		summaries[n] = c.summary
	}
	commandUsage(w, "vasto", "", summaries, 10)
}

// commandUsage prints the usage of a command with sub-commands (prog is
// "vasto" or "vasto chaos"): an optional intro paragraph, the sub-commands
// sorted by name (padded to width) with their summaries, and how to get the
// flags of one.
func commandUsage(w io.Writer, prog, intro string, summaries map[string]string, width int) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags]\n", prog)
	fmt.Fprintln(w)
	if intro != "" {
		fmt.Fprintln(w, intro)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "commands:")
	for _, n := range slices.Sorted(maps.Keys(summaries)) {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, summaries[n])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "run '%s COMMAND -h' for the flags of a command\n", prog)
}

// rootLogger is the process's one root logger; components take Named
// children of it.
func (e *env) rootLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "vasto",
		Level:  hclog.LevelFromString(e.logLevel),
		Output: e.stderr,
	})
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

func runVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "vasto", version)
	return nil
}
