package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/topology"
)

// runDCChange: vasto dc add DC / vasto dc remove DC — change the DC's list
// of remote DCs in its topology; every store follows it without a restart.
func runDCChange(ctx context.Context, e *env, add bool, args []string) error {
	name, usage := "dc remove", "vasto dc remove DC"
	if add {
		name, usage = "dc add", "vasto dc add DC"
	}
	var asJSON *bool
	cl, pos, err := clientCmd(ctx, e, name, args, 1, usage, func(fs *flag.FlagSet) { asJSON = jsonFlag(fs) })
	if err != nil {
		return err
	}
	defer cl.Close()
	var r topology.DCListReply
	if add {
		r, err = cl.AddDC(ctx, pos[0])
	} else {
		r, err = cl.RemoveDC(ctx, pos[0])
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, r)
	}
	if add {
		fmt.Fprintf(e.stdout, "added remote DC %s to %s: its stores apply %s's changes from now on (topology version %d)\n",
			pos[0], r.DC, pos[0], r.Version)
	} else {
		fmt.Fprintf(e.stdout, "removed remote DC %s from %s: its stores stop applying %s's changes and purge tombstones without waiting for it (topology version %d)\n",
			pos[0], r.DC, pos[0], r.Version)
	}
	return printDCList(e, r)
}

// runDCList: vasto dc list — the DC's remote DCs.
func runDCList(ctx context.Context, e *env, args []string) error {
	var asJSON *bool
	cl, _, err := clientCmd(ctx, e, "dc list", args, 0, "vasto dc list [--json]", func(fs *flag.FlagSet) { asJSON = jsonFlag(fs) })
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.ListDCs(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, r)
	}
	return printDCList(e, r)
}

func printDCList(e *env, r topology.DCListReply) error {
	source := "the topology (vasto dc add / remove)"
	if !r.Managed {
		source = "the stores' --remote-dcs (not managed yet: the first vasto dc add or remove takes them over)"
	}
	fmt.Fprintf(e.stdout, "remote DCs of %s, from %s\n\n", r.DC, source)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMOTE DC\tSTORES APPLYING IT")
	for _, d := range r.RemoteDCs {
		var stores []string
		for id, dcs := range r.Reported {
			if slices.Contains(dcs, d) {
				stores = append(stores, id)
			}
		}
		sort.Strings(stores)
		fmt.Fprintf(tw, "%s\t%d of %d %s\n", d, len(stores), len(r.Reported), strings.Join(stores, ","))
	}
	return tw.Flush()
}

// perDC is a flag value of the form "N,dc2=M": a default and per-DC
// overrides.
type perDC struct {
	def  int
	byDC map[string]int
}

func parsePerDC(flagName, s string) (perDC, error) {
	p := perDC{byDC: map[string]int{}}
	seenDef := false
	for _, part := range strings.Split(s, ",") {
		dc, num, hasDC := strings.Cut(strings.TrimSpace(part), "=")
		if !hasDC {
			num, dc = dc, ""
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return perDC{}, fmt.Errorf("%w: --%s %q: want N or DC=N, comma-separated", errUsage, flagName, s)
		}
		switch {
		case !hasDC && seenDef:
			return perDC{}, fmt.Errorf("%w: --%s %q: two defaults", errUsage, flagName, s)
		case !hasDC:
			p.def, seenDef = n, true
		case !topology.ValidName(dc):
			return perDC{}, fmt.Errorf("%w: --%s: dc %q: use 1-64 of A-Z a-z 0-9 - _", errUsage, flagName, dc)
		default:
			if _, dup := p.byDC[dc]; dup {
				return perDC{}, fmt.Errorf("%w: --%s %q: dc %s twice", errUsage, flagName, s, dc)
			}
			p.byDC[dc] = n
		}
	}
	if !seenDef {
		p.def = 1
	}
	return p, nil
}

func (p perDC) of(dc string) int {
	if n, ok := p.byDC[dc]; ok {
		return n
	}
	return p.def
}

// dcURL is one DC=URL of a flag such as --dc-nats.
type dcURL struct{ dc, url string }

// parseDCURLList parses a flag of DC=URL pairs, comma-separated, in order:
// every DC a valid name and named once, every URL given.
func parseDCURLList(flagName, s string) ([]dcURL, error) {
	var out []dcURL
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		dc, url, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok || url == "":
			return nil, fmt.Errorf("%w: --%s %q: want DC=URL, comma-separated (dc1=nats://host:4222,dc2=...)", errUsage, flagName, s)
		case !topology.ValidName(dc):
			return nil, fmt.Errorf("%w: --%s: dc %q: use 1-64 of A-Z a-z 0-9 - _", errUsage, flagName, dc)
		case seen[dc]:
			return nil, fmt.Errorf("%w: --%s: dc %s twice", errUsage, flagName, dc)
		}
		seen[dc] = true
		out = append(out, dcURL{dc, url})
	}
	return out, nil
}

// parseDCURLs parses --dc-nats: "dc2=URL,dc3=URL".
func parseDCURLs(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	list, err := parseDCURLList("dc-nats", s)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		out[p.dc] = p.url
	}
	return out, nil
}

// runKeyspaceCreate: vasto keyspace create NAME [--dcs dc1,dc2] --shards
// 8,dc2=4 [--replicas R] [--dc-nats dc2=URL]. With --dcs it creates the
// keyspace in every DC listed, each with its own shard and replica counts,
// through each DC's NATS (the local DC's is --nats). Everything is checked
// and every DC connected before anything is created.
func runKeyspaceCreate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("keyspace create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	shards := fs.String("shards", "1", "number of shards: N, or N,DC=M,... per DC with --dcs")
	replicas := fs.String("replicas", "1", "replicas of each shard, on distinct stores: R, or R,DC=S,... per DC with --dcs")
	ack := fs.String("ack", "", "acknowledgement level of the keyspace's writes that ask for none: local, published or replicated (default local)")
	dcs := fs.String("dcs", "", "create the keyspace in each of these comma-separated DCs (default: --dc only)")
	dcNATS := fs.String("dc-nats", envOr("VASTO_DC_NATS", ""), "NATS URL of each other DC of --dcs: DC=URL, comma-separated (env VASTO_DC_NATS); --dc's is --nats")
	usage := "vasto keyspace create NAME --shards N --replicas R [--ack LEVEL] [--dcs dc1,dc2 --shards 8,dc2=4 --dc-nats dc2=URL]"
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: %s", errUsage, usage)
	}
	name := pos[0]
	sh, err := parsePerDC("shards", *shards)
	if err != nil {
		return err
	}
	reps, err := parsePerDC("replicas", *replicas)
	if err != nil {
		return err
	}
	urls, err := parseDCURLs(*dcNATS)
	if err != nil {
		return err
	}
	targets := []string{*c.dc}
	if *dcs != "" {
		targets = nil
		for _, d := range strings.Split(*dcs, ",") {
			d = strings.TrimSpace(d)
			if !topology.ValidName(d) {
				return fmt.Errorf("%w: --dcs: dc %q: use 1-64 of A-Z a-z 0-9 - _", errUsage, d)
			}
			if slices.Contains(targets, d) {
				return fmt.Errorf("%w: --dcs: dc %s twice", errUsage, d)
			}
			targets = append(targets, d)
		}
	}
	for _, m := range []map[string]int{sh.byDC, reps.byDC} {
		for d := range m {
			if !slices.Contains(targets, d) {
				return fmt.Errorf("%w: dc %s has a shard or replica count but is not among the DCs %v", errUsage, d, targets)
			}
		}
	}
	for _, d := range targets {
		if d != *c.dc && urls[d] == "" {
			return fmt.Errorf("%w: no NATS URL for dc %s: --dc-nats %s=nats://HOST:PORT", errUsage, d, d)
		}
		if n := sh.of(d); n < 1 || n > topology.MaxShards {
			return fmt.Errorf("%w: dc %s: %d shards, want 1..%d", errUsage, d, n, topology.MaxShards)
		}
		if n := reps.of(d); n < 1 || n > topology.MaxReplicas {
			return fmt.Errorf("%w: dc %s: %d replicas, want 1..%d", errUsage, d, n, topology.MaxReplicas)
		}
	}
	e.logLevel = envOr("VASTO_LOG_LEVEL", "warn")
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	clients := map[string]*client.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for _, d := range targets {
		cfg, err := clientConfig(c, e)
		if err != nil {
			return err
		}
		cfg.DC = d
		if d != *c.dc {
			cfg.NATSURL = urls[d]
		}
		cl, err := client.New(cctx, cfg)
		if err != nil {
			return fmt.Errorf("dc %s: %w (nothing created)", d, err)
		}
		clients[d] = cl
	}
	var created []string
	for _, d := range targets {
		cl := clients[d]
		if err := cl.CreateKeyspace(cctx, name, sh.of(d), reps.of(d), client.WithDefaultAck(client.AckLevel(*ack))); err != nil {
			if len(created) > 0 {
				return fmt.Errorf("dc %s: %w (created in %s already; create it in the others again, or delete it)", d, err, strings.Join(created, ", "))
			}
			return fmt.Errorf("dc %s: %w", d, err)
		}
		created = append(created, d)
		if len(targets) > 1 {
			fmt.Fprintf(e.stdout, "dc %s: ", d)
		}
		fmt.Fprintf(e.stdout, "created keyspace %s: %d shards x %d replicas\n", name, sh.of(d), reps.of(d))
	}
	if len(targets) == 1 {
		return describe(cctx, e, clients[targets[0]], name)
	}
	return nil
}
