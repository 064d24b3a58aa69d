package chaos

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
)

// shortDigest is how many hex digits of a digest the table shows.
const shortDigest = 12

// WriteTable prints the report for operators: every replica's digest by
// DC and shard, the cross-DC comparison, the differing keys and the
// verdict.
func (r VerifyReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "keyspace %s at %s (%d)\n", r.Keyspace, r.At.Format("2006-01-02T15:04:05.000000000Z"), r.At.UnixNano())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DC\tSHARD\tSTORE\tADDR\tKEYS\tDIGEST\tSTATE")
	for _, s := range r.Shards {
		ref, _ := s.reference()
		for _, rep := range s.Replicas {
			state := "ok"
			switch {
			case rep.Err != nil:
				state = "error: " + rep.Err.Error()
			case rep.Digest != ref.Digest:
				state = "DIFFERS"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", rep.DC, s.Shard, rep.Store, rep.Addr,
				count(rep), short(rep.Digest), state)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Cross) > 0 {
		writeCross(w, r.Cross)
	}
	writeDiffs(w, r)
	bad := r.differing()
	if r.Converged() {
		fmt.Fprintln(w, "converged: yes")
	} else {
		fmt.Fprintf(w, "converged: no (%d comparison(s) differ or failed)\n", bad)
	}
	return nil
}

func count(r Replica) string {
	if r.Err != nil {
		return "-"
	}
	return strconv.Itoa(r.Count)
}

func short(d string) string {
	if d == "" {
		return "-"
	}
	return d[:min(len(d), shortDigest)]
}

// writeCross prints the cross-DC comparison, one line per shard (or one
// for the whole keyspace).
func writeCross(w io.Writer, cross []CrossCheck) {
	var dcs []string
	for dc := range cross[0].Digests {
		dcs = append(dcs, dc)
	}
	sort.Strings(dcs)
	fmt.Fprintln(w, "\ncross-DC:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "SHARD")
	for _, dc := range dcs {
		fmt.Fprintf(tw, "\t%s", dc)
	}
	fmt.Fprintln(tw, "\tSTATE")
	for _, c := range cross {
		shard := strconv.Itoa(c.Shard)
		if c.Shard < 0 {
			shard = "all"
		}
		fmt.Fprint(tw, shard)
		for _, dc := range dcs {
			fmt.Fprintf(tw, "\t%s", short(c.Digests[dc]))
		}
		state := "ok"
		if !c.Converged() {
			state = "DIFFERS"
		}
		fmt.Fprintf(tw, "\t%s\n", state)
	}
	_ = tw.Flush()
}

// writeDiffs lists the differing keys of every comparison that differs.
func writeDiffs(w io.Writer, r VerifyReport) {
	header := false
	list := func(what string, diffs []KeyDiff, total int) {
		if total == 0 {
			return
		}
		if !header {
			fmt.Fprintln(w, "\ndiffering keys:")
			header = true
		}
		fmt.Fprintf(w, "  %s: %d key(s)\n", what, total)
		for _, d := range diffs {
			fmt.Fprintf(w, "    %q: %s %s, %s %s\n", d.Key, d.A.Replica, side(d.A), d.B.Replica, side(d.B))
		}
		if total > len(diffs) {
			fmt.Fprintf(w, "    ... and %d more\n", total-len(diffs))
		}
	}
	for _, s := range r.Shards {
		list(fmt.Sprintf("%s shard %d", s.DC, s.Shard), s.Diffs, s.DiffKeys)
	}
	for _, c := range r.Cross {
		what := fmt.Sprintf("cross-DC shard %d", c.Shard)
		if c.Shard < 0 {
			what = "cross-DC keyspace"
		}
		list(what, c.Diffs, c.DiffKeys)
	}
}

func side(s Side) string {
	if !s.Present {
		return "absent"
	}
	v := s.Value
	if len(v) > 32 {
		return fmt.Sprintf("%q...(%d bytes)@%d from %s", v[:32], len(v), s.Time, s.Origin)
	}
	return fmt.Sprintf("%q@%d from %s", v, s.Time, s.Origin)
}

// differing counts the comparisons that did not converge.
func (r VerifyReport) differing() int {
	n := 0
	for _, s := range r.Shards {
		if !s.Converged() {
			n++
		}
	}
	for _, c := range r.Cross {
		if !c.Converged() {
			n++
		}
	}
	return n
}
