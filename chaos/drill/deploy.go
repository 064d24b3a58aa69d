package drill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/chaos"
	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/retry"
	"github.com/vasto-kv/vasto/lww"
)

const (
	host = "127.0.0.1"
	// readyTimeout bounds the start of one process.
	readyTimeout = 30 * time.Second
)

// storeNode is one store process and where it listens.
type storeNode struct {
	id   string
	addr string
	dir  string
	proc *Proc
}

// dcNode is one DC of the deployment.
type dcNode struct {
	name     string
	natsURL  string
	natsAddr string
	nats     *Proc
	master   *Proc
	stores   []*storeNode
	// link is the proxy on this DC's leafnode link to the hub (nil for
	// the hub, dc1).
	link   *chaos.Proxy
	client *client.Client
	// skew is the offset of the DC's client clock (a skew-dc fault moves
	// the clients' clocks with the stores'); clock is the wall clock plus
	// skew, which stamps the client's writes and the workload's explicit
	// event times.
	skew  atomic.Int64
	clock lww.Clock
}

// deployment is the running processes of a drill.
type deployment struct {
	cfg    Config
	log    hclog.Logger
	dcs    []*dcNode
	faults bool   // the binary takes --allow-faults
	tmpfs  string // the mounted disk of dc1/s1, if any
	// tmpfsNote says why the disk is not a tmpfs, when it is not.
	tmpfsNote string
}

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func freeAddr() (string, error) {
	p, err := freePort()
	if err != nil {
		return "", fmt.Errorf("%w: free port: %w", ErrProcess, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// supportsFaults reports whether the binary's store takes --allow-faults.
func supportsFaults(binary string) bool {
	out, _ := exec.Command(binary, "store", "-h").CombinedOutput()
	return strings.Contains(string(out), "allow-faults")
}

// newDeployment lays out the processes of cfg without starting them.
func newDeployment(cfg Config, wantTmpfs bool) (*deployment, error) {
	d := &deployment{cfg: cfg, log: cfg.Logger.Named("deploy"), faults: supportsFaults(cfg.Binary)}
	dep := cfg.Deployment()
	leafAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for i, name := range dep.DCs {
		dir := filepath.Join(cfg.Dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProcess, err)
		}
		natsAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		n := &dcNode{name: name, natsAddr: natsAddr, natsURL: "nats://" + natsAddr}
		n.clock = lww.ClockFunc(func() int64 { return lww.SystemClock().Now() + n.skew.Load() })
		args := []string{"nats", "--dc", name, "--dir", filepath.Join(dir, "nats"), "--listen", natsAddr, "--log-level", "warn"}
		if i == 0 {
			args = append(args, "--leaf-listen", leafAddr)
		} else {
			n.link = chaos.NewProxy(leafAddr)
			if err := n.link.Start(context.Background(), host+":0"); err != nil {
				d.shutdownProxies()
				return nil, fmt.Errorf("%w: link proxy: %w", ErrProcess, err)
			}
			args = append(args, "--leaf-remote", "nats-leaf://"+n.link.Addr())
		}
		n.nats = newProc(name+"/nats", cfg.Binary, filepath.Join(dir, "nats.log"), d.log, args...)
		n.master = newProc(name+"/master", cfg.Binary, filepath.Join(dir, "master.log"), d.log,
			"master", "--nats", n.natsURL, "--dc", name, "--log-level", "warn")
		var remotes []string
		for _, o := range dep.DCs {
			if o != name {
				remotes = append(remotes, o)
			}
		}
		for s := 0; s < cfg.Stores; s++ {
			st, err := d.newStore(n, dir, s, remotes, wantTmpfs && i == 0 && s == 0)
			if err != nil {
				d.shutdownProxies()
				return nil, err
			}
			n.stores = append(n.stores, st)
		}
		d.dcs = append(d.dcs, n)
	}
	return d, nil
}

func (d *deployment) newStore(n *dcNode, dir string, s int, remotes []string, tmpfs bool) (*storeNode, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	id := StoreID(s)
	st := &storeNode{id: id, addr: addr, dir: filepath.Join(dir, id)}
	if tmpfs {
		d.tmpfs, d.tmpfsNote = mountTmpfs(st.dir)
	}
	args := []string{"store", "--dir", st.dir, "--listen", addr, "--nats", n.natsURL, "--dc", n.name, "--id", id,
		"--block-cache-mb", "16", "--log-level", "warn"}
	if len(remotes) > 0 {
		args = append(args, "--remote-dcs", strings.Join(remotes, ","))
	}
	if d.faults {
		args = append(args, "--allow-faults")
	}
	st.proc = newProc(n.name+"/"+id, d.cfg.Binary, filepath.Join(dir, id+".log"), d.log, args...)
	return st, nil
}

// start starts every process and the clients, creates the keyspace in
// every DC and waits until it is served.
func (d *deployment) start(ctx context.Context) error {
	for _, n := range d.dcs {
		if err := startAndWait(ctx, n.nats, n.natsAddr); err != nil {
			return err
		}
	}
	for _, n := range d.dcs[1:] {
		if err := waitLinked(ctx, d.dcs[0], n, d.log); err != nil {
			return err
		}
	}
	for _, n := range d.dcs {
		if err := n.master.Start(); err != nil {
			return err
		}
		for _, st := range n.stores {
			if err := startAndWait(ctx, st.proc, st.addr); err != nil {
				return err
			}
		}
	}
	for _, n := range d.dcs {
		ccfg := client.DefaultConfig(n.natsURL, n.name)
		ccfg.Logger = d.cfg.Logger.Named("client-" + n.name)
		ccfg.Clock = n.clock
		cctx, cancel := context.WithTimeout(ctx, readyTimeout)
		cl, err := client.New(cctx, ccfg)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: client of %s: %w", ErrProcess, n.name, err)
		}
		n.client = cl
	}
	for _, n := range d.dcs {
		if err := d.createKeyspace(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// startAndWait starts p and waits until addr accepts connections.
func startAndWait(ctx context.Context, p *Proc, addr string) error {
	if err := p.Start(); err != nil {
		return err
	}
	return waitListening(ctx, p, addr)
}

// waitListening waits until addr accepts TCP connections, the process
// exits or readyTimeout passes.
func waitListening(ctx context.Context, p *Proc, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	b := retry.Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}
	exited := p.Exited()
	for {
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if !b.Wait(ctx, exited) {
			return fmt.Errorf("%w: %s not listening on %s: %w", ErrProcess, p.Name, addr, ctx.Err())
		}
		if !p.Running() {
			return fmt.Errorf("%w: %s exited before listening on %s (see %s)", ErrProcess, p.Name, addr, p.logPath)
		}
	}
}

// waitLinked waits until a request sent on spoke's NATS is answered on the
// hub's: their leafnode link is up. Stores start only then: a copy stream
// created while its remote DC is unreachable waits for nats-server's
// back-off before it copies.
func waitLinked(ctx context.Context, hub, spoke *dcNode, log hclog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	hc, err := bus.Connect(ctx, bus.ConnConfig{URL: hub.natsURL, Name: "vasto-drill-link", Logger: log})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProcess, err)
	}
	defer hc.Close()
	subj := "vasto.drill.link." + spoke.name
	sub, err := hc.Handle(subj, "", func(context.Context, []byte) ([]byte, error) { return []byte("ok"), nil })
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProcess, err)
	}
	defer sub.Stop()
	sc, err := bus.Connect(ctx, bus.ConnConfig{URL: spoke.natsURL, Name: "vasto-drill-link", Logger: log})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProcess, err)
	}
	defer sc.Close()
	b := retry.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		_, err := sc.Request(rctx, subj, nil)
		rcancel()
		if err == nil {
			return nil
		}
		if !b.Wait(ctx, nil) {
			return fmt.Errorf("%w: link %s-%s not up: %w", ErrProcess, hub.name, spoke.name, err)
		}
	}
}

// createKeyspace waits for every store of n to be healthy, creates the
// keyspace and waits until every replica serves it.
func (d *deployment) createKeyspace(ctx context.Context, n *dcNode) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	b := retry.Backoff{Min: 20 * time.Millisecond, Max: 250 * time.Millisecond}
	for !d.storesHealthy(ctx, n) {
		if !b.Wait(ctx, nil) {
			return fmt.Errorf("%w: stores of %s not healthy: %w", ErrProcess, n.name, ctx.Err())
		}
	}
	for {
		err := n.client.CreateKeyspace(ctx, d.cfg.Keyspace, d.cfg.Shards, d.cfg.Replicas)
		if err == nil || errors.Is(err, client.ErrKeyspaceExists) {
			break
		}
		if !b.Wait(ctx, nil) {
			return fmt.Errorf("%w: create keyspace in %s: %w", ErrProcess, n.name, err)
		}
	}
	if err := n.client.WaitForServing(ctx, d.cfg.Keyspace); err != nil {
		return fmt.Errorf("%w: keyspace in %s: %w", ErrProcess, n.name, err)
	}
	return nil
}

// storesHealthy reports whether n's master sees every store healthy.
func (d *deployment) storesHealthy(ctx context.Context, n *dcNode) bool {
	infos, err := n.client.ListStores(ctx)
	if err != nil {
		return false
	}
	healthy := 0
	for _, s := range infos {
		if s.Healthy {
			healthy++
		}
	}
	return healthy >= len(n.stores)
}

// shutdown stops every process (stores first), the clients and the
// proxies, and unmounts the tmpfs. It is safe to call on a partial
// deployment and more than once.
func (d *deployment) shutdown() {
	for _, n := range d.dcs {
		if n.client != nil {
			_ = n.client.Close()
			n.client = nil
		}
	}
	// Stores first (they drain their change logs through NATS), then the
	// masters, then NATS; the processes of each tier stop in parallel.
	var stores, masters, servers []*Proc
	for _, n := range d.dcs {
		for _, st := range n.stores {
			stores = append(stores, st.proc)
		}
		masters, servers = append(masters, n.master), append(servers, n.nats)
	}
	for _, tier := range [][]*Proc{stores, masters, servers} {
		stopAll(tier, d.cfg.StopTimeout)
	}
	d.shutdownProxies()
	if d.tmpfs != "" {
		unmountTmpfs(d.tmpfs)
		d.tmpfs = ""
	}
}

// stopAll stops procs in parallel and waits for them.
func stopAll(procs []*Proc, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Stop(timeout)
		}()
	}
	wg.Wait()
}

// removeData removes every process's data directory, keeping the logs.
func (d *deployment) removeData() {
	for _, n := range d.dcs {
		_ = os.RemoveAll(filepath.Join(d.cfg.Dir, n.name, "nats"))
		for _, st := range n.stores {
			_ = os.RemoveAll(st.dir)
		}
	}
}

func (d *deployment) shutdownProxies() {
	for _, n := range d.dcs {
		if n.link != nil {
			n.link.Shutdown()
		}
	}
}

// links returns the proxies a fault on dc's link acts on: its own link,
// or every link for the hub.
func (d *deployment) links(dc string) []*chaos.Proxy {
	var out []*chaos.Proxy
	for _, n := range d.dcs {
		if n.link != nil && (n.name == dc || dc == d.dcs[0].name) {
			out = append(out, n.link)
		}
	}
	return out
}

// dc returns the DC named name.
func (d *deployment) dc(name string) *dcNode {
	for _, n := range d.dcs {
		if n.name == name {
			return n
		}
	}
	return nil
}

// describe is the deployment in one paragraph, for the report.
func (d *deployment) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d DC(s) x %d stores, keyspace %q with %d shards x %d replicas per DC; DCs linked to %s by NATS leafnodes through chaos proxies.\n\n",
		len(d.dcs), d.cfg.Stores, d.cfg.Keyspace, d.cfg.Shards, d.cfg.Replicas, d.dcs[0].name)
	for _, n := range d.dcs {
		fmt.Fprintf(&b, "- %s: NATS %s", n.name, n.natsURL)
		if n.link != nil {
			fmt.Fprintf(&b, " (link via proxy %s)", n.link.Addr())
		}
		b.WriteString("; stores")
		for _, st := range n.stores {
			fmt.Fprintf(&b, " %s=%s", st.id, st.addr)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
