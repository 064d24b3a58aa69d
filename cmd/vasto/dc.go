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

// runDC: vasto dc status — replication from every remote DC into this one.
func runDC(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "status" {
		return fmt.Errorf("%w: vasto dc status [--remote-dcs dc2,dc3]", errUsage)
	}
	fs := flag.NewFlagSet("dc status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := addCommon(fs)
	remotes := fs.String("remote-dcs", envOr("VASTO_REMOTE_DCS", ""), "comma-separated remote DCs (env VASTO_REMOTE_DCS)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *remotes == "" {
		return fmt.Errorf("%w: name the remote DCs with --remote-dcs or VASTO_REMOTE_DCS", errUsage)
	}
	remoteDCs := strings.Split(*remotes, ",")
	e.logLevel = envOr("VASTO_LOG_LEVEL", "warn")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := bus.Connect(cctx, bus.ConnConfig{URL: *c.nats, Name: "vasto-cli", Logger: e.rootLogger().Named("bus")})
	if err != nil {
		return err
	}
	defer conn.Close()
	cl, err := client.New(cctx, clientConfig(*c.nats, *c.dc, e))
	if err != nil {
		return err
	}
	defer cl.Close()
	infos, err := conn.SourceStatus(cctx, *c.dc, remoteDCs)
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(e.stdout, "replication into %s\n\n", *c.dc)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMOTE DC\tLINK\tLAST HEARD\tCOPY LAG (msgs)\tCOPIED MSGS\tLAST COPIED")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", in.RemoteDC, linkState(in), ago(in.Active), in.Lag, in.Msgs, since(now, in.LastTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	top := cl.Topology()
	tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMOTE DC\tKEYSPACE\tSTORE\tPENDING (msgs)\tLAG (time)\tLAST APPLIED")
	for _, in := range infos {
		for _, ks := range top.KeyspaceNames() {
			for _, st := range storesOf(top.Keyspaces[ks].Placement) {
				pending, floor, err := conn.ConsumerPending(cctx, in.Stream, crossdc.Durable(st, in.RemoteDC, ks))
				if errors.Is(err, bus.ErrNoConsumer) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\tnot applying yet\n", in.RemoteDC, ks, st)
					continue
				}
				if err != nil {
					return err
				}
				lag := "0s"
				if pending > 0 && !floor.IsZero() && in.LastTime.After(floor) {
					lag = in.LastTime.Sub(floor).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", in.RemoteDC, ks, st, pending, lag, since(now, floor))
			}
		}
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
