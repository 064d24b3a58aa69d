package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vasto-kv/vasto/bus"
)

// streamRow is one of the DC's NATS streams in `vasto dc status`: its
// replicas in the DC's NATS cluster, and how long a reader may stop
// before falling off its retention.
type streamRow struct {
	Stream string `json:"stream"`
	// Role: "change log", "copy of <dc>" or "topology".
	Role     string        `json:"role"`
	Exists   bool          `json:"exists"`
	Replicas int           `json:"replicas"`
	Current  int           `json:"replicas_current"`
	Leader   string        `json:"leader"`
	Lagging  []string      `json:"lagging,omitempty"`
	Bytes    uint64        `json:"bytes"`
	MaxBytes int64         `json:"max_bytes"`
	MaxAge   time.Duration `json:"max_age_ns"`
	// WriteRate is the average rate (bytes/s) over the messages held.
	WriteRate float64 `json:"write_bytes_per_second"`
	// Retention is how long a cut link (a reader that stops) can last
	// before it loses messages at that rate; negative: no limit.
	Retention time.Duration `json:"retention_ns"`
}

// readStreams reads dc's change log, its copies of the remote DCs' change
// logs and its topology bucket.
func readStreams(ctx context.Context, conn *bus.Conn, dc string, remotes []string) ([]streamRow, error) {
	type named struct{ stream, role string }
	var list []named
	if s, err := bus.ChangeStream(dc); err == nil {
		list = append(list, named{s, "change log"})
	}
	for _, r := range remotes {
		s, err := bus.SourceStream(dc, r)
		if err != nil {
			return nil, err
		}
		list = append(list, named{s, "copy of " + r})
	}
	if b, err := bus.TopologyBucket(dc); err == nil {
		list = append(list, named{"KV_" + b, "topology"})
	}
	rows := make([]streamRow, 0, len(list))
	for _, n := range list {
		st, err := conn.StreamState(ctx, n.stream)
		if err != nil {
			return nil, err
		}
		rate := st.WindowRate()
		rows = append(rows, streamRow{Stream: n.stream, Role: n.role, Exists: st.Exists, Replicas: st.Replicas,
			Current: st.Current, Leader: st.Leader, Lagging: st.Lagging, Bytes: st.Bytes, MaxBytes: st.MaxBytes,
			MaxAge: st.MaxAge, WriteRate: rate, Retention: bus.RetentionHorizon(st.MaxAge, st.MaxBytes, rate)})
	}
	return rows, nil
}

func printStreams(e *env, rows []streamRow) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tROLE\tREPLICAS\tCURRENT\tLEADER\tSIZE / LIMIT\tWRITE RATE\tCUT LINK LASTS")
	for _, r := range rows {
		if !r.Exists {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\tnot created yet\n", r.Stream, r.Role)
			continue
		}
		cur := fmt.Sprintf("%d/%d", r.Current, r.Replicas)
		if len(r.Lagging) > 0 {
			cur += " (behind: " + strings.Join(r.Lagging, ",") + ")"
		}
		leader := r.Leader
		if leader == "" {
			leader = "none (electing)"
		}
		limit := "none"
		if r.MaxBytes > 0 {
			limit = humanBytes(uint64(r.MaxBytes))
		}
		lasts := "no limit"
		if r.Role == "topology" {
			lasts = "-"
		} else if r.Retention >= 0 {
			lasts = r.Retention.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s / %s\t%s/s\t%s\n", r.Stream, r.Role, r.Replicas, cur, leader,
			humanBytes(r.Bytes), limit, humanBytes(uint64(r.WriteRate)), lasts)
	}
	return tw.Flush()
}
