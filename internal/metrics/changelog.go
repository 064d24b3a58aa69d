package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// changeLogReadTimeout bounds one reading of the change log per scrape.
const changeLogReadTimeout = 2 * time.Second

var (
	descChangeLogRetention = desc("change_log_retention_seconds",
		"How long a cut link to another DC can last before that DC falls off this DC's change-log retention and needs a re-bootstrap: the smaller of the stream's max age and its max bytes over the current write rate (-1: no limit).")
	descChangeLogRate     = desc("change_log_write_bytes_per_second", "Current write rate into the DC's change-log stream.")
	descChangeLogBytes    = desc("change_log_bytes", "Bytes the DC's change-log stream holds.")
	descChangeLogReplicas = desc("change_log_replicas", "Replicas the DC's change-log stream is configured with.")
	descChangeLogCurrent  = desc("change_log_replicas_current", "Replicas of the DC's change-log stream that are online and caught up (leader included).")
)

// ChangeLogReading is one reading of a DC's change-log stream.
type ChangeLogReading struct {
	// Exists is false until a store created the stream; nothing is
	// exported then.
	Exists bool
	// Replicas and Current: configured replicas, and those online and
	// current.
	Replicas, Current int
	// Bytes held, and the current write rate in bytes per second.
	Bytes     uint64
	WriteRate float64
	// Retention is how long a reader can stop reading before it loses
	// messages at the current rate; negative: no limit.
	Retention time.Duration
}

// changeLog reads a change-log stream when scraped.
type changeLog struct {
	read func(ctx context.Context) (ChangeLogReading, error)
}

// NewChangeLog registers the metrics of dc's change-log stream on reg;
// read returns a reading of it (bus.Conn.StreamState through a
// bus.RetentionEstimator). A scrape whose reading fails exports none of
// them. The returned function unregisters them.
func NewChangeLog(reg *Registry, dcName string, read func(ctx context.Context) (ChangeLogReading, error)) (func(), error) {
	return reg.register(prometheus.Labels{"dc": dcName}, changeLog{read: read})
}

func (c changeLog) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descChangeLogRetention, descChangeLogRate, descChangeLogBytes, descChangeLogReplicas, descChangeLogCurrent} {
		ch <- d
	}
}

func (c changeLog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), changeLogReadTimeout)
	defer cancel()
	r, err := c.read(ctx)
	if err != nil || !r.Exists {
		return
	}
	ret := -1.0
	if r.Retention >= 0 {
		ret = r.Retention.Seconds()
	}
	ch <- gauge(descChangeLogRetention, ret)
	ch <- gauge(descChangeLogRate, r.WriteRate)
	ch <- gauge(descChangeLogBytes, float64(r.Bytes))
	ch <- gauge(descChangeLogReplicas, float64(r.Replicas))
	ch <- gauge(descChangeLogCurrent, float64(r.Current))
}
