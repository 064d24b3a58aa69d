package embedded

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/lww"
)

// Defaults used by DefaultConfig.
const (
	// DefaultSyncInterval is how often JetStream fsyncs its files.
	DefaultSyncInterval = time.Second
	// DefaultMaxStore is the JetStream file-store limit. Every stream's
	// MaxBytes is reserved against it when the stream is created.
	DefaultMaxStore int64 = 10 << 30
	// DefaultHost is the loopback address the client listener binds.
	DefaultHost = "127.0.0.1"
	// maxServerNameLen bounds Name.
	maxServerNameLen = 128
)

// Config configures an embedded NATS server.
type Config struct {
	// DC names the datacenter: 1-64 ASCII letters, digits, '-' or '_'. It is
	// also the JetStream domain and part of the default server name.
	DC string
	// Name is the server name, unique among connected servers; default
	// "vasto-<dc>" (required with ClusterListen). Same characters as DC, up to 128 bytes.
	Name string
	// Dir is the JetStream store directory (the server appends /jetstream).
	Dir string
	// Host and Port are the client listener. Port -1 picks a random free
	// port (see Server.ClientURL); 0 means the NATS default, 4222.
	Host string
	Port int
	// LeafListen, if set, is the "host:port" on which the server accepts
	// leafnode connections from other DCs; port -1 picks a random one (see
	// Server.LeafURL).
	LeafListen string
	// LeafRemotes are leafnode URLs (nats-leaf://host:port) of other DCs to
	// connect to. Each entry is one remote DC; several servers of the same
	// remote DC go into one entry separated by commas. Links must form a
	// tree: the server rejects a cycle.
	LeafRemotes []string
	// ClusterListen, if set, is the "host:port" on which the server accepts
	// route connections from the other servers of its DC's NATS cluster;
	// port -1 picks a random one (see Server.RouteURL). A cluster shares
	// one JetStream domain (the DC) and holds replicated streams: 3 servers
	// keep working when one is lost, 5 when two are.
	ClusterListen string
	// ClusterName names the DC's NATS cluster; every server of it must use
	// the same name. Default "vasto-<dc>". Needs ClusterListen.
	ClusterName string
	// Routes are the route URLs (nats-route://host:port) of the other
	// servers of the cluster (this server's own entry is allowed, so every
	// server can be given the same list). Needs ClusterListen.
	Routes []string
	// MonitorListen, if set, is the "host:port" on which the server serves
	// nats-server's HTTP monitoring endpoints (/varz, /jsz, /leafz...);
	// port -1 picks a random one (see Server.MonitorURL).
	MonitorListen string
	// SyncInterval is the JetStream fsync interval; see the package doc for
	// the trade-off. Default 1 s.
	SyncInterval time.Duration
	// MaxStore is the JetStream file-store limit in bytes; default 10 GiB.
	MaxStore int64
	// TLS, if enabled, makes the client port and the leafnode listener
	// TLS only (a plaintext client is refused), with the certificate and
	// key of TLS.CertFile and TLS.KeyFile (read again when they change),
	// and client certificates signed by TLS.CAFile required when
	// TLS.ClientAuth is set. Leafnode remotes are dialled with TLS,
	// verifying the remote server against TLS.CAFile and presenting this
	// server's certificate.
	TLS secure.TLSFiles
	// AuthConfig, if set, names a nats-server configuration file (as 'vasto
	// auth init' writes) whose authorization users the server admits, and
	// only them, each with its permissions. Leafnode connections
	// authenticate against the same users.
	AuthConfig string
	// LeafCreds, if set, names the nkey seed file this server presents on
	// its LeafRemotes (the remote DC's leaf user). Owner-readable only.
	LeafCreds string
	// Logger receives the server's logs.
	Logger hclog.Logger
}

// DefaultConfig returns a Config for the DC dc storing its data in dir, on a
// random loopback port, with the defaults filled in.
func DefaultConfig(dc, dir string) Config {
	return Config{
		DC:           dc,
		Dir:          dir,
		Host:         DefaultHost,
		Port:         -1,
		SyncInterval: DefaultSyncInterval,
		MaxStore:     DefaultMaxStore,
		Logger:       hclog.NewNullLogger(),
	}
}

// withDefaults fills in the zero fields that have a default.
func (c Config) withDefaults() Config {
	if c.Name == "" && c.ClusterListen == "" && lww.ValidName(c.DC) {
		c.Name = "vasto-" + c.DC
	}
	if c.ClusterName == "" && c.ClusterListen != "" && lww.ValidName(c.DC) {
		c.ClusterName = "vasto-" + c.DC
	}
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.MaxStore == 0 {
		c.MaxStore = DefaultMaxStore
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// Validate reports the first problem with c (after defaults are applied to
// zero fields).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !lww.ValidName(c.DC):
		return fmt.Errorf("%w: bad dc name %q (1-64 of A-Z a-z 0-9 _ -)", ErrInvalidConfig, c.DC)
	case c.Name == "" && c.ClusterListen != "":
		return fmt.Errorf("%w: every server of a cluster needs its own name", ErrInvalidConfig)
	case !validServerName(c.Name):
		return fmt.Errorf("%w: bad server name %q", ErrInvalidConfig, c.Name)
	case c.Dir == "":
		return fmt.Errorf("%w: empty store dir", ErrInvalidConfig)
	case c.Port < -1 || c.Port > 65535:
		return fmt.Errorf("%w: bad port %d", ErrInvalidConfig, c.Port)
	case c.SyncInterval < 0:
		return fmt.Errorf("%w: negative sync interval", ErrInvalidConfig)
	case c.MaxStore < 0:
		return fmt.Errorf("%w: negative max store", ErrInvalidConfig)
	case c.TLS.Enabled() && c.TLS.CertFile == "":
		return fmt.Errorf("%w: TLS needs the server's certificate and key", ErrInvalidConfig)
	case c.ClusterListen == "" && (len(c.Routes) > 0 || c.ClusterName != ""):
		return fmt.Errorf("%w: routes and a cluster name need a cluster listen address", ErrInvalidConfig)
	case c.ClusterName != "" && !validServerName(c.ClusterName):
		return fmt.Errorf("%w: bad cluster name %q", ErrInvalidConfig, c.ClusterName)
	case c.LeafCreds != "" && len(c.LeafRemotes) == 0:
		return fmt.Errorf("%w: leaf credentials without a leaf remote", ErrInvalidConfig)
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.LeafListen != "" {
		if _, _, err := parseHostPort(c.LeafListen); err != nil {
			return fmt.Errorf("%w: leaf listen %q: %w", ErrInvalidConfig, c.LeafListen, err)
		}
	}
	if c.ClusterListen != "" {
		if _, _, err := parseHostPort(c.ClusterListen); err != nil {
			return fmt.Errorf("%w: cluster listen %q: %w", ErrInvalidConfig, c.ClusterListen, err)
		}
	}
	for _, r := range c.Routes {
		if _, err := parseRoute(r); err != nil {
			return fmt.Errorf("%w: route %q: %w", ErrInvalidConfig, r, err)
		}
	}
	if c.MonitorListen != "" {
		if _, _, err := parseHostPort(c.MonitorListen); err != nil {
			return fmt.Errorf("%w: monitor listen %q: %w", ErrInvalidConfig, c.MonitorListen, err)
		}
	}
	for _, r := range c.LeafRemotes {
		if _, err := parseRemote(r); err != nil {
			return fmt.Errorf("%w: leaf remote %q: %w", ErrInvalidConfig, r, err)
		}
	}
	return nil
}

func validServerName(s string) bool {
	if len(s) == 0 || len(s) > maxServerNameLen {
		return false
	}
	// The same alphabet as a DC name; checked in 64-byte chunks.
	for len(s) > 0 {
		n := min(len(s), lww.MaxNameLen)
		if !lww.ValidName(s[:n]) {
			return false
		}
		s = s[n:]
	}
	return true
}

// parseHostPort splits "host:port" where port is -1 (random) or 0..65535.
func parseHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	return host, port, nil
}

// parseRemote parses one LeafRemotes entry: comma-separated URLs.
func parseRemote(entry string) ([]*url.URL, error) {
	var urls []*url.URL
	for _, s := range strings.Split(entry, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		switch u.Scheme {
		case "nats-leaf", "nats", "tls", "ws", "wss":
		default:
			return nil, fmt.Errorf("unsupported scheme %q (want nats-leaf://host:port)", u.Scheme)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("missing host")
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// parseRoute parses one Routes entry: a nats-route://host:port URL.
func parseRoute(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "nats-route", "nats", "tls":
	default:
		return nil, fmt.Errorf("unsupported scheme %q (want nats-route://host:port)", u.Scheme)
	}
	if u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("missing host or port")
	}
	return u, nil
}
