package metrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every Vasto metric.
const namespace = "vasto"

// Registry holds every metric of one process.
type Registry struct {
	reg *prometheus.Registry
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors.
func NewRegistry() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Handler serves the registry's metrics in the Prometheus exposition
// formats, uncompressed: compressing a page of a few tens of kilobytes every
// scrape costs the store more CPU than sending it.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, DisableCompression: true})
}

// register registers c with the constant labels and returns the function
// that unregisters it.
func (r *Registry) register(labels prometheus.Labels, c prometheus.Collector) (func(), error) {
	reg := prometheus.WrapRegistererWith(labels, r.reg)
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("metrics: register %v: %w", labels, err)
	}
	return func() { reg.Unregister(c) }, nil
}
