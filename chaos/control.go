package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The proxy's control API, so a drill in one process drives a proxy that
// runs in another (`vasto chaos proxy`). It is plain HTTP on a loopback
// address:
//
//	POST /cut                                  cut the link
//	POST /restore                              accept connections again
//	POST /slow?latency=100ms&bandwidth=65536   delay and cap (bytes/s, 0: none)
//	POST /fast                                 no delay, no cap
//	GET  /status                               ProxyStatus as JSON

// ProxyStatus is what GET /status answers.
type ProxyStatus struct {
	Listen      string `json:"listen"`
	Target      string `json:"target"`
	Cut         bool   `json:"cut"`
	LatencyNS   int64  `json:"latency_ns"`
	BytesPerSec int64  `json:"bytes_per_sec"`
}

// Status returns the proxy's state.
func (p *Proxy) Status() ProxyStatus {
	lat, bps := p.Shaping()
	return ProxyStatus{Listen: p.Addr(), Target: p.target, Cut: p.IsCut(), LatencyNS: int64(lat), BytesPerSec: bps}
}

// ProxyControl returns the HTTP handler of p's control API.
func ProxyControl(p *Proxy) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cut", func(w http.ResponseWriter, _ *http.Request) { p.Cut(); writeStatus(w, p) })
	mux.HandleFunc("POST /restore", func(w http.ResponseWriter, _ *http.Request) { p.Restore(); writeStatus(w, p) })
	mux.HandleFunc("POST /fast", func(w http.ResponseWriter, _ *http.Request) { p.Fast(); writeStatus(w, p) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, p) })
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		lat, bps, err := parseSlow(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.Slow(lat, bps)
		writeStatus(w, p)
	})
	return mux
}

// parseSlow reads latency (a Go duration) and bandwidth (bytes/s) from q.
func parseSlow(q url.Values) (time.Duration, int64, error) {
	var lat time.Duration
	var bps int64
	var err error
	if s := q.Get("latency"); s != "" {
		if lat, err = time.ParseDuration(s); err != nil || lat < 0 {
			return 0, 0, fmt.Errorf("%w: latency %q is not a non-negative duration", ErrInvalidArgument, s)
		}
	}
	if s := q.Get("bandwidth"); s != "" {
		if bps, err = strconv.ParseInt(s, 10, 64); err != nil || bps < 0 {
			return 0, 0, fmt.Errorf("%w: bandwidth %q is not a non-negative number of bytes per second", ErrInvalidArgument, s)
		}
	}
	return lat, bps, nil
}

func writeStatus(w http.ResponseWriter, p *Proxy) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p.Status())
}

// ProxyClient drives a proxy's control API at a loopback host:port.
type ProxyClient struct {
	base string
	hc   *http.Client
}

// NewProxyClient returns a client of the control API at addr (host:port,
// the host a loopback IP).
func NewProxyClient(addr string) (*ProxyClient, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	return &ProxyClient{base: "http://" + addr, hc: &http.Client{Timeout: storeRequestTimeout}}, nil
}

// checkLoopback refuses an address whose host is not a loopback IP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: control address %q must be a loopback IP and port, e.g. 127.0.0.1:7000", ErrInvalidArgument, addr)
	}
	return nil
}

// Cut cuts the link.
func (c *ProxyClient) Cut(ctx context.Context) (ProxyStatus, error) {
	return c.call(ctx, "POST", "/cut")
}

// Restore accepts connections again.
func (c *ProxyClient) Restore(ctx context.Context) (ProxyStatus, error) {
	return c.call(ctx, "POST", "/restore")
}

// Slow delays every chunk by latency and caps the bandwidth (0: no cap).
func (c *ProxyClient) Slow(ctx context.Context, latency time.Duration, bytesPerSec int64) (ProxyStatus, error) {
	if latency < 0 || bytesPerSec < 0 {
		return ProxyStatus{}, fmt.Errorf("%w: negative latency or bandwidth", ErrInvalidArgument)
	}
	q := url.Values{"latency": {latency.String()}, "bandwidth": {strconv.FormatInt(bytesPerSec, 10)}}
	return c.call(ctx, "POST", "/slow?"+q.Encode())
}

// Fast removes the delay and the cap.
func (c *ProxyClient) Fast(ctx context.Context) (ProxyStatus, error) {
	return c.call(ctx, "POST", "/fast")
}

// Status reads the proxy's state.
func (c *ProxyClient) Status(ctx context.Context) (ProxyStatus, error) {
	return c.call(ctx, "GET", "/status")
}

func (c *ProxyClient) call(ctx context.Context, method, path string) (ProxyStatus, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return ProxyStatus{}, fmt.Errorf("chaos: proxy control: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return ProxyStatus{}, fmt.Errorf("chaos: proxy control: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return ProxyStatus{}, fmt.Errorf("chaos: proxy control: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return ProxyStatus{}, fmt.Errorf("%w: proxy control %s %s: %s: %s", ErrBadReply, method, path, resp.Status, body)
	}
	var st ProxyStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return ProxyStatus{}, fmt.Errorf("%w: proxy control: %w", ErrBadReply, err)
	}
	return st, nil
}
