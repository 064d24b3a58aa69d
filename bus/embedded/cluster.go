package embedded

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clusterPoll is how often WaitCluster checks the servers.
const clusterPoll = 20 * time.Millisecond

// ClusterConfigs returns the configurations of an n-server NATS cluster
// for one DC, from base: server i (1-based) is named "<dc>-n<i>", stores
// its data in base.Dir/n<i>, has a random client port (unless base.Port is
// set: then base.Port+i-1), and a route port picked free on base.Host now;
// every server is routed to every other. Start the servers, then wait for
// WaitCluster.
func ClusterConfigs(base Config, n int) ([]Config, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: a cluster of %d servers", ErrInvalidConfig, n)
	}
	base = base.withDefaults()
	routes := make([]string, n)
	listens := make([]string, n)
	for i := range routes {
		l, err := net.Listen("tcp", net.JoinHostPort(base.Host, "0"))
		if err != nil {
			return nil, fmt.Errorf("bus: embedded: pick a route port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		listens[i] = net.JoinHostPort(base.Host, strconv.Itoa(port))
		routes[i] = "nats-route://" + listens[i]
	}
	cfgs := make([]Config, n)
	for i := range cfgs {
		cfg := base
		cfg.Name = base.DC + "-n" + strconv.Itoa(i+1)
		cfg.Dir = filepath.Join(base.Dir, "n"+strconv.Itoa(i+1))
		if base.Port > 0 {
			cfg.Port = base.Port + i
		}
		cfg.ClusterListen = listens[i]
		cfg.Routes = append([]string(nil), routes...)
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		cfgs[i] = cfg
	}
	return cfgs, nil
}

// WaitCluster waits until one of servers leads the cluster's JetStream meta
// group and knows want servers online, or ctx ends.
func WaitCluster(ctx context.Context, servers []*Server, want int) error {
	t := time.NewTicker(clusterPoll)
	defer t.Stop()
	for {
		for _, s := range servers {
			if s.IsMetaLeader() && s.ClusterPeers() >= want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: NATS cluster of %d servers not formed: %w", ErrNotReady, want, ctx.Err())
		case <-t.C:
		}
	}
}

// ClientURLs returns the client URLs of servers, comma-separated, as
// bus.ConnConfig.URL and --nats take them.
func ClientURLs(servers []*Server) string {
	urls := make([]string, 0, len(servers))
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}
