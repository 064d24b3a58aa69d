package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CommandObserver is told of every command a RESP endpoint answers; it is
// gateway.Observer, which this package does not import: the gateway
// reaches the client, which the store wiring must not.
type CommandObserver interface {
	Command(name string, took time.Duration, code string)
}

// commandMetrics are the latency histogram and error counter of the
// commands a RESP endpoint answers (a store's server, a gateway).
type commandMetrics struct {
	seconds *prometheus.HistogramVec
	cache   sync.Map // command name -> prometheus.Observer
	errors  *prometheus.CounterVec
}

func newCommandMetrics(subsystem, secondsHelp, errorsHelp string) *commandMetrics {
	return &commandMetrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: subsystem,
			Name: "request_duration_seconds", Help: secondsHelp, Buckets: latencyBuckets}, []string{"command"}),
		errors: counterVec(subsystem, "errors_total", errorsHelp, "command", "code"),
	}
}

// Command records one answered command.
func (m *commandMetrics) Command(name string, took time.Duration, code string) {
	h, ok := m.cache.Load(name)
	if !ok {
		h, _ = m.cache.LoadOrStore(name, m.seconds.WithLabelValues(name))
	}
	h.(prometheus.Observer).Observe(took.Seconds())
	if code != "" {
		m.errors.WithLabelValues(name, code).Inc()
	}
}

// Describe implements prometheus.Collector.
func (m *commandMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.seconds.Describe(ch)
	m.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *commandMetrics) Collect(ch chan<- prometheus.Metric) {
	m.seconds.Collect(ch)
	m.errors.Collect(ch)
}

// Gateway holds the metrics of a DC's gateway.
type Gateway struct {
	cmds       *commandMetrics
	unregister func()
}

// NewGateway registers the metrics of the gateway of dc on reg. Close
// unregisters them.
func NewGateway(reg *Registry, dcName string) (*Gateway, error) {
	g := &Gateway{cmds: newCommandMetrics("gateway",
		"Time from reading a command to answering it, the stores' round trips included.",
		"Commands answered with an error, by command and error code (TRYAGAIN: no store answered in time).")}
	unregister, err := reg.register(prometheus.Labels{"dc": dcName}, g.cmds)
	if err != nil {
		return nil, err
	}
	g.unregister = unregister
	return g, nil
}

// Observer returns the observer for the gateway's configuration
// (gateway.Config.Observer).
func (g *Gateway) Observer() CommandObserver { return g.cmds }

// Close unregisters the gateway's metrics.
func (g *Gateway) Close() { g.unregister() }
