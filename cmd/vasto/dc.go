package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/client"
	crossdc "github.com/vasto-kv/vasto/dc"
)

// runDC: vasto dc status — the DC's NATS streams (replicas, cluster
// state, retention) and replication from every remote DC into this one;
// vasto dc add / remove / list — the DC's remote DCs (dcmember.go).
func runDC(ctx context.Context, e *env, args []string) error {
	if done, err := groupArgs(e, "dc", args); done {
		return err
	}
	switch args[0] {
	case "add", "remove":
		return runDCChange(ctx, e, args[0] == "add", args[1:])
	case "list":
		return runDCList(ctx, e, args[1:])
	case "status":
	default:
		return unknownSub("dc", args[0])
	}
	fs := flag.NewFlagSet("dc status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	remotes := fs.String("remote-dcs", envOr("VASTO_REMOTE_DCS", ""), "comma-separated remote DCs whose replication to show (env VASTO_REMOTE_DCS); empty: the master's list once it manages it (vasto dc list), else only this DC's streams")
	asJSON := jsonFlag(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var remoteDCs []string
	if *remotes != "" {
		remoteDCs = strings.Split(*remotes, ",")
	}
	e.logLevel = envOr("VASTO_LOG_LEVEL", "warn")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ccfg, err := c.connConfig("vasto-cli", e.rootLogger().Named("bus"))
	if err != nil {
		return err
	}
	conn, err := bus.Connect(cctx, ccfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	clcfg, err := clientConfig(c, e)
	if err != nil {
		return err
	}
	cl, err := client.New(cctx, clcfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	if *remotes == "" {
		list, err := cl.ListDCs(cctx)
		switch {
		case err != nil:
			fmt.Fprintf(e.stderr, "warning: cannot read the DC's remote DCs from the master (%v); showing only this DC's streams\n", err)
		case list.Managed:
			remoteDCs = list.RemoteDCs
		}
	}
	infos, err := conn.SourceStatus(cctx, *c.dc, remoteDCs)
	if err != nil {
		return err
	}
	st := dcStatus{DC: *c.dc}
	if st.Streams, err = readStreams(cctx, conn, *c.dc, remoteDCs); err != nil {
		return err
	}
	for _, in := range infos {
		st.Links = append(st.Links, linkRow{RemoteDC: in.RemoteDC, Link: linkState(in), Active: in.Active,
			CopyLag: in.Lag, Copied: in.Msgs, LastCopied: in.LastTime})
	}
	top := cl.Topology()
	for _, in := range infos {
		for _, ks := range top.KeyspaceNames() {
			for _, store := range storesOf(top.Keyspaces[ks].Placement) {
				row, err := readApplier(cctx, conn, in, ks, store)
				if err != nil {
					return err
				}
				st.Appliers = append(st.Appliers, row)
			}
		}
	}
	if *asJSON {
		return printJSON(e.stdout, st)
	}
	return printDCStatus(e, st)
}

// dcStatus is what `vasto dc status` reports: the cross-DC copy of each
// remote DC's change log into this DC, and each store's applier of it.
type dcStatus struct {
	DC       string       `json:"dc"`
	Streams  []streamRow  `json:"streams"`
	Links    []linkRow    `json:"links"`
	Appliers []applierRow `json:"appliers"`
}

type linkRow struct {
	RemoteDC   string        `json:"remote_dc"`
	Link       string        `json:"link"`
	Active     time.Duration `json:"last_heard_ns"` // negative: never
	CopyLag    uint64        `json:"copy_lag_msgs"`
	Copied     uint64        `json:"copied_msgs"`
	LastCopied time.Time     `json:"last_copied"`
}

type applierRow struct {
	RemoteDC string `json:"remote_dc"`
	Keyspace string `json:"keyspace"`
	Store    string `json:"store"`
	// Applying is false until the store created its consumer.
	Applying    bool          `json:"applying"`
	Pending     uint64        `json:"pending_msgs"`
	Lag         time.Duration `json:"lag_ns"`
	LastApplied time.Time     `json:"last_applied"`
}

// readApplier reads how far store's applier of in's copy for keyspace ks is.
func readApplier(ctx context.Context, conn *bus.Conn, in bus.SourceInfo, ks, store string) (applierRow, error) {
	row := applierRow{RemoteDC: in.RemoteDC, Keyspace: ks, Store: store}
	pending, floor, err := conn.ConsumerPending(ctx, in.Stream, crossdc.Durable(store, in.RemoteDC, ks))
	if errors.Is(err, bus.ErrNoConsumer) {
		return row, nil
	}
	if err != nil {
		return row, err
	}
	row.Applying, row.Pending, row.LastApplied = true, pending, floor
	if pending > 0 && !floor.IsZero() && in.LastTime.After(floor) {
		row.Lag = in.LastTime.Sub(floor)
	}
	return row, nil
}

func printDCStatus(e *env, st dcStatus) error {
	now := time.Now()
	fmt.Fprintf(e.stdout, "NATS streams of %s\n\n", st.DC)
	if err := printStreams(e, st.Streams); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nreplication into %s\n\n", st.DC)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMOTE DC\tLINK\tLAST HEARD\tCOPY LAG (msgs)\tCOPIED MSGS\tLAST COPIED")
	for _, l := range st.Links {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", l.RemoteDC, l.Link, ago(l.Active), l.CopyLag, l.Copied, since(now, l.LastCopied))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMOTE DC\tKEYSPACE\tSTORE\tPENDING (msgs)\tLAG (time)\tLAST APPLIED")
	for _, a := range st.Appliers {
		if !a.Applying {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\tnot applying yet\n", a.RemoteDC, a.Keyspace, a.Store)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", a.RemoteDC, a.Keyspace, a.Store, a.Pending,
			a.Lag.Round(time.Millisecond), since(now, a.LastApplied))
	}
	return tw.Flush()
}

func linkState(in bus.SourceInfo) string {
	switch {
	case !in.Exists:
		return "no copy stream"
	case in.Error != "":
		return "error: " + in.Error
	case in.Active < 0:
		return "not connected yet"
	case in.Active > 10*time.Second:
		return "down"
	}
	return "up"
}

func ago(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String() + " ago"
}

func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Millisecond).String() + " ago"
}

// storesOf lists the stores of a placement, each once, in order.
func storesOf(placement [][]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, reps := range placement {
		for _, s := range reps {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
