package storenode

import (
	"context"
	"fmt"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/dc"
	"github.com/vasto-kv/vasto/internal/metrics"
	"github.com/vasto-kv/vasto/replica"
	"github.com/vasto-kv/vasto/server"
	"github.com/vasto-kv/vasto/store"
)

// openMetrics registers the store's metrics when the node has a registry
// and gives the engine configuration its observer; n.mu held.
func (n *Node) openMetrics(ecfg *store.Config) error {
	if n.cfg.Metrics == nil {
		return nil
	}
	m, err := metrics.NewStore(n.cfg.Metrics, ecfg.DC, ecfg.Node, ecfg.Clock)
	if err != nil {
		return fmt.Errorf("storenode: %w", err)
	}
	n.metrics = m
	ecfg.Observer = m.Engine()
	ecfg.Statistics = true
	return nil
}

// attachEngine lets scrapes read the open engine; n.mu held.
func (n *Node) attachEngine() {
	if n.metrics != nil {
		n.metrics.AttachEngine(n.eng)
	}
}

// attachLinks lets scrapes read the state of the copies of the remote DCs'
// streams; n.mu held.
func (n *Node) attachLinks(local string, remotes func() []string) {
	if n.metrics == nil {
		return
	}
	conn := n.conn
	n.metrics.AttachLinks(func(ctx context.Context) ([]bus.SourceInfo, error) {
		return conn.SourceStatus(ctx, local, remotes())
	})
}

// closeMetrics unregisters the store's metrics; n.mu held.
func (n *Node) closeMetrics() {
	if n.metrics != nil {
		n.metrics.Close()
		n.metrics = nil
	}
}

func (n *Node) serverObserver() server.Observer {
	if n.metrics == nil {
		return nil
	}
	return n.metrics.Server()
}

func (n *Node) replicaObserver() replica.Observer {
	if n.metrics == nil {
		return nil
	}
	return n.metrics.Replica()
}

func (n *Node) crossDCObserver() dc.Observer {
	if n.metrics == nil {
		return nil
	}
	return n.metrics.CrossDC()
}
