package bus

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/vasto-kv/vasto/bus/embedded"
)

// stockConfig is the configuration of one server of a DC's NATS cluster
// as docs/operations.md gives it for a stock nats-server.
const stockConfig = `server_name: %s
listen: %s

jetstream {
  store_dir: %s
  domain: dc1
  max_file_store: 10GB
  sync_interval: 1s
}

cluster {
  name: vasto-dc1
  listen: %s
  routes: [
%s
  ]
}

leafnodes {
  listen: %s
  no_advertise: true
}
`

// stockServer is a nats-server process.
type stockServer struct {
	name, url string
	cmd       *exec.Cmd
}

// buildNATSServer builds the nats-server binary of the module's version
// into a temporary directory.
func buildNATSServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	require.NoError(t, err, "build nats-server: %s", out)
	return bin
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startStockCluster starts n nats-server processes forming dc1's cluster
// from the documented configuration; they are killed when the test ends.
func startStockCluster(t *testing.T, bin string, n int) []*stockServer {
	t.Helper()
	dir := t.TempDir()
	routes := make([]string, n)
	clusterAddrs := make([]string, n)
	for i := range routes {
		clusterAddrs[i] = loopbackAddr(t)
		routes[i] = "    nats-route://" + clusterAddrs[i]
	}
	servers := make([]*stockServer, n)
	for i := range servers {
		name, client := fmt.Sprintf("dc1-%c", 'a'+i), loopbackAddr(t)
		conf := filepath.Join(dir, name+".conf")
		text := fmt.Sprintf(stockConfig, name, client, filepath.Join(dir, name), clusterAddrs[i],
			strings.Join(routes, "\n"), loopbackAddr(t))
		require.NoError(t, os.WriteFile(conf, []byte(text), 0o600))
		log, err := os.Create(filepath.Join(dir, name+".log"))
		require.NoError(t, err)
		cmd := exec.Command(bin, "-c", conf)
		cmd.Stdout, cmd.Stderr = log, log
		require.NoError(t, cmd.Start())
		s := &stockServer{name: name, url: "nats://" + client, cmd: cmd}
		servers[i] = s
		t.Cleanup(func() {
			s.kill()
			_ = log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("%s log:\n%s", name, b)
			}
		})
	}
	return servers
}

// kill kills the server with SIGKILL (once).
func (s *stockServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// TestStockNATSServerCluster runs dc1's NATS as three stock nats-server
// processes configured as docs/operations.md says, creates Vasto's
// replicated streams and bucket on them, and kills the change log's leader
// with SIGKILL under publish load: no acknowledged message is lost.
func TestStockNATSServerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs nats-server processes")
	}
	servers := startStockCluster(t, buildNATSServer(t), 3)
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.url
	}
	ctx := testCtx(t)
	c, err := Connect(ctx, ConnConfig{URL: strings.Join(urls, ","), Name: t.Name(),
		Logger: embedded.TestLogger(t, hclog.Warn), Replicas: 3})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	// The first API request can go unanswered while the cluster forms.
	require.Eventually(t, func() bool {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return c.EnsureTopologyBucket(actx, "dc1") == nil
	}, 20*time.Second, 100*time.Millisecond, "a 3-replica topology bucket")
	// The copy of another DC's change log checks the JetStream domain.
	require.NoError(t, c.EnsureSourceStream(ctx, SourceConfig{LocalDC: "dc1", RemoteDC: "dc2"}))
	src, _ := SourceStream("dc1", "dc2")
	st, err := c.StreamState(ctx, src)
	require.NoError(t, err)
	require.Equal(t, 3, st.Replicas)

	// A killed server's stream replicas wait out the election timeout
	// (seconds) before electing a new leader.
	publishThroughLeaderLoss(t, c, 20*time.Second, func(leader string) bool {
		for _, s := range servers {
			if s.name == leader {
				s.kill()
				return true
			}
		}
		return false
	})
}
