package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vasto-kv/vasto/client"
)

// errNotFound makes `vasto get` exit with code 1.
var errNotFound = errors.New("not found")

// clientCmd parses the common flags plus the command's own, with npos
// positional arguments, and connects a client.
func clientCmd(ctx context.Context, e *env, name string, args []string, npos int, usage string, define func(fs *flag.FlagSet)) (*client.Client, []string, error) {
	return clientCmdN(ctx, e, name, args, npos, npos, usage, define)
}

// clientCmdN is clientCmd with minPos..maxPos positional arguments.
func clientCmdN(ctx context.Context, e *env, name string, args []string, minPos, maxPos int, usage string, define func(fs *flag.FlagSet)) (*client.Client, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if define != nil {
		define(fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) < minPos || len(pos) > maxPos {
		return nil, nil, fmt.Errorf("%w: %s", errUsage, usage)
	}
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	e.logLevel = envOr("VASTO_LOG_LEVEL", "warn")
	cfg, err := clientConfig(c, e)
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.New(cctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cl, pos, nil
}

// clientConfig returns the configuration of a client command's client:
// the DC's NATS URL with the process's NATS credentials, TLS to NATS and
// the stores, and the RESP credentials, as the common flags say.
func clientConfig(c commonFlags, e *env) (client.Config, error) {
	cfg := client.DefaultConfig(*c.nats, *c.dc)
	cfg.Logger = e.rootLogger().Named("client")
	var err error
	if cfg.NATSCreds, cfg.NATSTLS, err = c.sec.natsClient(); err != nil {
		return client.Config{}, err
	}
	cfg.TLS = cfg.NATSTLS
	if err := withCredentials(&cfg, c.sec); err != nil {
		return client.Config{}, err
	}
	return cfg, nil
}

func runPut(ctx context.Context, e *env, args []string) error {
	var eventTime *int64
	var ttl *time.Duration
	var ack *string
	cl, pos, err := clientCmd(ctx, e, "put", args, 3, "vasto put KEYSPACE KEY VALUE [--event-time NS] [--ttl DUR] [--ack LEVEL]", func(fs *flag.FlagSet) {
		eventTime = fs.Int64("event-time", 0, "event time in ns since the Unix epoch (default: the store's clock)")
		ttl = fs.Duration("ttl", 0, "expire the value this long after its event time")
		ack = ackFlag(fs)
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	opts := []client.WriteOption{client.WithAck(client.AckLevel(*ack))}
	if *eventTime != 0 {
		opts = append(opts, client.WithEventTime(*eventTime))
	}
	if *ttl != 0 {
		opts = append(opts, client.WithTTL(*ttl))
	}
	r, err := cl.Put(ctx, pos[0], []byte(pos[1]), []byte(pos[2]), opts...)
	if err != nil {
		return err
	}
	printWrite(e, r)
	return nil
}

func runDel(ctx context.Context, e *env, args []string) error {
	var eventTime *int64
	var ack *string
	cl, pos, err := clientCmd(ctx, e, "del", args, 2, "vasto del KEYSPACE KEY [--event-time NS] [--ack LEVEL]", func(fs *flag.FlagSet) {
		eventTime = fs.Int64("event-time", 0, "event time in ns since the Unix epoch (default: the store's clock)")
		ack = ackFlag(fs)
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	opts := []client.WriteOption{client.WithAck(client.AckLevel(*ack))}
	if *eventTime != 0 {
		opts = append(opts, client.WithEventTime(*eventTime))
	}
	r, err := cl.Delete(ctx, pos[0], []byte(pos[1]), opts...)
	if err != nil {
		return err
	}
	printWrite(e, r)
	return nil
}

// ackFlag is the --ack flag of the write commands.
func ackFlag(fs *flag.FlagSet) *string {
	return fs.String("ack", envOr("VASTO_ACK", ""), "acknowledge once the write is "+
		"local (in the store's write-ahead log), published (also in the DC's change log) or replicated (also applied by another replica); default: the keyspace's level (env VASTO_ACK)")
}

func printWrite(e *env, r client.WriteResult) {
	if r.Applied {
		fmt.Fprintf(e.stdout, "applied: event time %d, origin %s/%s, shard %d on %s, log index %d, acknowledged %s\n",
			r.Version.Time, r.Version.DC, r.Version.Node, r.Shard, r.Store, r.LogIndex, r.Ack)
		return
	}
	fmt.Fprintf(e.stdout, "not applied: the key holds a later write (event time %d, origin %s/%s), acknowledged %s\n",
		r.Version.Time, r.Version.DC, r.Version.Node, r.Ack)
}

func runGet(ctx context.Context, e *env, args []string) error {
	var verbose *bool
	cl, pos, err := clientCmd(ctx, e, "get", args, 2, "vasto get KEYSPACE KEY [-v]", func(fs *flag.FlagSet) {
		verbose = fs.Bool("v", false, "also print the event time, origin and expiry")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	it, err := cl.Get(ctx, pos[0], []byte(pos[1]))
	if errors.Is(err, client.ErrNotFound) {
		fmt.Fprintln(e.stderr, "(not found)")
		return errNotFound
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, string(it.Value))
	if *verbose {
		fmt.Fprintf(e.stdout, "event time %d (%s), origin %s/%s", it.Version.Time,
			time.Unix(0, it.Version.Time).UTC().Format(time.RFC3339Nano), it.Version.DC, it.Version.Node)
		if it.ExpiresAt != 0 {
			fmt.Fprintf(e.stdout, ", expires %s", time.Unix(0, it.ExpiresAt).UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

func runScan(ctx context.Context, e *env, args []string) error {
	var prefix, start, end *string
	var limit *int
	cl, pos, err := clientCmd(ctx, e, "scan", args, 1, "vasto scan KEYSPACE [--prefix P] [--start S] [--end E] [--limit N]", func(fs *flag.FlagSet) {
		prefix = fs.String("prefix", "", "only keys with this prefix")
		start = fs.String("start", "", "first key (inclusive)")
		end = fs.String("end", "", "last key (exclusive)")
		limit = fs.Int("limit", 100, "most keys to print")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	items, err := cl.Scan(ctx, pos[0], client.ScanOptions{Prefix: []byte(*prefix), Start: []byte(*start), End: []byte(*end), Limit: *limit})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\n", it.Key, it.Value)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.stderr, "(%d keys)\n", len(items))
	return nil
}

// runKeyspace: vasto keyspace create|delete|list|describe|resize|rebalance.
func runKeyspace(ctx context.Context, e *env, args []string) error {
	if done, err := groupArgs(e, "keyspace", args); done {
		return err
	}
	switch args[0] {
	case "create":
		return runKeyspaceCreate(ctx, e, args[1:])
	case "delete":
		var epoch *uint64
		cl, pos, err := clientCmd(ctx, e, "keyspace delete", args[1:], 1, "vasto keyspace delete NAME [--epoch N]", func(fs *flag.FlagSet) {
			epoch = fs.Uint64("epoch", 0, "delete the incarnation N that stores hold but the topology does not place (see 'vasto store list'), not the keyspace")
		})
		if err != nil {
			return err
		}
		defer cl.Close()
		if *epoch != 0 {
			if err := cl.DiscardIncarnation(ctx, pos[0], *epoch); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "recorded incarnation %d of keyspace %s as deleted: the stores holding it delete its shards\n", *epoch, pos[0])
			return nil
		}
		if err := cl.DeleteKeyspace(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted keyspace %s\n", pos[0])
		return nil
	case "recover":
		return runRecover(ctx, e, args[1:])
	case "list":
		var asJSON *bool
		cl, _, err := clientCmd(ctx, e, "keyspace list", args[1:], 0, "vasto keyspace list [--json]", func(fs *flag.FlagSet) {
			asJSON = jsonFlag(fs)
		})
		if err != nil {
			return err
		}
		defer cl.Close()
		list, err := cl.ListKeyspaces(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, list)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEYSPACE\tSHARDS\tREPLICAS")
		for _, ks := range list {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", ks.Name, ks.Shards, ks.Replicas)
		}
		return tw.Flush()
	case "describe":
		var asJSON *bool
		cl, pos, err := clientCmd(ctx, e, "keyspace describe", args[1:], 1, "vasto keyspace describe NAME [--json]", func(fs *flag.FlagSet) {
			asJSON = jsonFlag(fs)
		})
		if err != nil {
			return err
		}
		defer cl.Close()
		if *asJSON {
			ks, err := cl.DescribeKeyspace(ctx, pos[0])
			if err != nil {
				return err
			}
			return printJSON(e.stdout, ks)
		}
		return describe(ctx, e, cl, pos[0])
	case "resize":
		return runResize(ctx, e, args[1:])
	case "rebalance":
		return runRebalance(ctx, e, args[1:])
	}
	return unknownSub("keyspace", args[0])
}

func describe(ctx context.Context, e *env, cl *client.Client, name string) error {
	ks, err := cl.DescribeKeyspace(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "keyspace %s: %d shards x %d replicas (topology version %d)\n", ks.Name, ks.Shards, ks.Replicas, ks.Version)
	if ks.Ack != client.AckLocal {
		fmt.Fprintf(e.stdout, "writes acknowledged once %s unless they ask for another level\n", ks.Ack)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tREPLICA\tSTORE\tADDRESS\tHEALTH")
	for _, sh := range ks.Placement {
		for i, r := range sh.Replicas {
			role := strconv.Itoa(i + 1)
			if i == 0 {
				role += " (preferred)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", sh.Shard, role, r.Store, r.Addr, health(r.Healthy, r.Serving))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return describeOps(e, ks)
}

func health(healthy, serving bool) string {
	switch {
	case !healthy:
		return "down"
	case !serving:
		return "catching up"
	}
	return "up"
}

func runStoreList(ctx context.Context, e *env, args []string) error {
	var asJSON *bool
	cl, _, err := clientCmd(ctx, e, "store list", args, 0, "vasto store list [--json]", func(fs *flag.FlagSet) {
		asJSON = jsonFlag(fs)
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	stores, err := cl.ListStores(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, stores)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tHEALTH\tSERVING")
	for _, s := range stores {
		state := "up"
		if !s.Healthy {
			state = "down"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Addr, state, strings.Join(s.Serving, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := printReadOnly(e.stdout, stores); err != nil {
		return err
	}
	return printUnplaced(e, stores)
}

// printUnplaced lists the shards stores hold that the topology does not
// place, with what to do about them.
func printUnplaced(e *env, stores []client.StoreInfo) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	found := false
	for _, s := range stores {
		for _, u := range s.Unplaced {
			if !found {
				fmt.Fprintln(e.stdout, "\nshards held on disk whose keyspace incarnation the topology does not know (kept, not served):")
				fmt.Fprintln(tw, "STORE\tSHARD@EPOCH")
				found = true
			}
			fmt.Fprintf(tw, "%s\t%s\n", s.ID, u)
		}
	}
	if !found {
		return nil
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "recover them with 'vasto keyspace recover [NAME]', or discard one with 'vasto keyspace delete NAME --epoch N'")
	return nil
}

// runRecover: vasto keyspace recover [NAME...] [--dry-run].
func runRecover(ctx context.Context, e *env, args []string) error {
	var dry *bool
	cl, pos, err := clientCmdN(ctx, e, "keyspace recover", args, 0, 64, "vasto keyspace recover [NAME...] [--dry-run]", func(fs *flag.FlagSet) {
		dry = fs.Bool("dry-run", false, "only say what would be recovered")
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.RecoverKeyspaces(ctx, pos, *dry)
	if err != nil {
		return err
	}
	verb := "recovered"
	if *dry {
		verb = "would recover (dry run: nothing changed)"
	}
	if len(r.Recovered) == 0 {
		fmt.Fprintln(e.stdout, "nothing to recover")
	}
	for _, ks := range r.Recovered {
		fmt.Fprintf(e.stdout, "%s keyspace %s: %d shards x %d replicas, epoch %d\n", verb, ks.Name, ks.Shards, ks.Replicas, ks.Epoch)
		for i, reps := range ks.Placement {
			fmt.Fprintf(e.stdout, "  shard %d: %s\n", i, strings.Join(reps, " "))
		}
	}
	names := make([]string, 0, len(r.Refused))
	for n := range r.Refused {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(e.stdout, "not recovered: %s: %s\n", n, r.Refused[n])
	}
	if len(names) > 0 {
		return fmt.Errorf("%d keyspace(s) not recovered", len(names))
	}
	return nil
}

// printReadOnly lists the shards that refuse writes, and why, under the
// store list.
func printReadOnly(w io.Writer, stores []client.StoreInfo) error {
	var rows []string
	for _, s := range stores {
		for _, sh := range slices.Sorted(maps.Keys(s.ReadOnly)) {
			rows = append(rows, s.ID+"\t"+sh+"\t"+s.ReadOnly[sh]+"\n")
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nREAD-ONLY SHARDS (writes refused and sent to other replicas, reads served, until the disk has room)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tSHARD\tREASON")
	for _, r := range rows {
		fmt.Fprint(tw, r)
	}
	return tw.Flush()
}
