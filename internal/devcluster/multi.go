package devcluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/retry"
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
		if base.GatewayPort != 0 {
			cfg.GatewayPort = base.GatewayPort + 100*i
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
			cfg.LeafCreds = out[0].Creds(bus.RoleLeaf, "")
		}
		c, err := startNATS(ctx, cfg)
		if err != nil {
			stop()
			return nil, fmt.Errorf("devcluster: start %s: %w", dc, err)
		}
		out = append(out, c)
	}
	// Start the stores only once every DC's link is up: a copy stream
	// created while its remote DC is unreachable waits for nats-server's
	// back-off (tens of seconds) before it starts copying.
	for _, c := range out[1:] {
		if err := waitLinked(ctx, out[0], c); err != nil {
			stop()
			return nil, err
		}
	}
	for _, c := range out {
		if err := c.startServices(ctx); err != nil {
			stop()
			return nil, fmt.Errorf("devcluster: start %s: %w", c.cfg.DC, err)
		}
	}
	return out, nil
}

// waitLinked waits until a request from spoke's NATS is answered on hub's:
// the leafnode link between them is up. With NATS users, which may not
// use such a subject, it waits for both servers to count the link.
func waitLinked(ctx context.Context, hub, spoke *Cluster) error {
	if hub.cfg.NATSAuth {
		return waitLeafCount(ctx, hub, spoke)
	}
	hc, err := bus.Connect(ctx, bus.ConnConfig{URL: hub.NATSURL(), Name: "vasto-link-check", Logger: hub.log})
	if err != nil {
		return err
	}
	defer hc.Close()
	subj := "vasto.link." + spoke.cfg.DC
	sub, err := hc.Handle(subj, "", func(context.Context, []byte) ([]byte, error) { return []byte("ok"), nil })
	if err != nil {
		return err
	}
	defer sub.Stop()
	sc, err := bus.Connect(ctx, bus.ConnConfig{URL: spoke.NATSURL(), Name: "vasto-link-check", Logger: spoke.log})
	if err != nil {
		return err
	}
	defer sc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := sc.Request(rctx, subj, nil)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("devcluster: link %s-%s not up: %w", hub.cfg.DC, spoke.cfg.DC, err)
		}
		retry.Sleep(ctx, 20*time.Millisecond)
	}
}

// waitLeafCount waits until hub and spoke each have a leafnode link up.
func waitLeafCount(ctx context.Context, hub, spoke *Cluster) error {
	deadline := time.Now().Add(30 * time.Second)
	for hub.nats.LeafNodes() == 0 || spoke.nats.LeafNodes() == 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("devcluster: link %s-%s not up", hub.cfg.DC, spoke.cfg.DC)
		}
		retry.Sleep(ctx, 20*time.Millisecond)
	}
	return nil
}

// ShutdownAll shuts down clusters started together (by StartMulti), the
// last first, each even when another failed, and joins their errors.
func ShutdownAll(ctx context.Context, cs []*Cluster) error {
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
