package devcluster

import (
	"context"
	"fmt"
	"path/filepath"
)

// StartMulti starts one cluster per DC name, linked hub-and-spoke by NATS
// leafnodes (the first DC is the hub), each applying every other DC's
// changes. base gives the shared settings; each DC gets base.Dir/<dc>, and
// fixed ports (when base sets them) are shifted by 100 per DC.
func StartMulti(ctx context.Context, base Config, dcs []string) ([]*Cluster, error) {
	if len(dcs) < 1 {
		return nil, fmt.Errorf("devcluster: no DCs")
	}
	var out []*Cluster
	stop := func() {
		for _, c := range out {
			_ = c.Shutdown(context.Background())
		}
	}
	for i, dc := range dcs {
		cfg := base
		cfg.DC = dc
		cfg.Dir = filepath.Join(base.Dir, dc)
		cfg.Logger = base.Logger.Named(dc)
		if base.NATSPort != 0 {
			cfg.NATSPort = base.NATSPort + 100*i
		}
		if base.FirstStorePort != 0 {
			cfg.FirstStorePort = base.FirstStorePort + 100*i
		}
		cfg.RemoteDCs = nil
		for _, other := range dcs {
			if other != dc {
				cfg.RemoteDCs = append(cfg.RemoteDCs, other)
			}
		}
		if i == 0 {
			cfg.LeafListen = cfg.Host + ":-1"
			if base.NATSPort != 0 {
				cfg.LeafListen = fmt.Sprintf("%s:%d", cfg.Host, base.NATSPort+1000)
			}
		} else {
			url := out[0].LeafURL()
			if base.LinkVia != nil {
				url = base.LinkVia(url)
			}
			cfg.LeafRemotes = []string{url}
		}
		c, err := Start(ctx, cfg)
		if err != nil {
			stop()
			return nil, fmt.Errorf("devcluster: start %s: %w", dc, err)
		}
		out = append(out, c)
	}
	return out, nil
}
