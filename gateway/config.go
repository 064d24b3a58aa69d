package gateway

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/client"
	"github.com/vasto-kv/vasto/internal/acl"
	"github.com/vasto-kv/vasto/server/resp"
	"github.com/vasto-kv/vasto/topology"
)

// Defaults of Config.
const (
	// DefaultKeyspace is the keyspace a connection uses until VUSE.
	DefaultKeyspace = "default"
	// DefaultPoolSize is the client's Config.PoolSize: the dedicated
	// connections per store for commands that wait server-side (WAIT,
	// AFTER, ACK above local), as a gateway carries the load of many
	// clients. Other commands share the client's pipelined connections.
	DefaultPoolSize = 64
	// DefaultRequestTimeout bounds one batch of commands, retries included.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds one write of replies to a client.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxKeys bounds how many keys one KEYS command may scan.
	DefaultMaxKeys = 10000
	// DefaultMaxBatches is the default Config.MaxBatches.
	DefaultMaxBatches = 4
	// MaxScanCount is the largest COUNT of SCAN.
	MaxScanCount = 10000
)

// Config configures a Gateway.
type Config struct {
	// Listen is the TCP address to listen on, e.g. 127.0.0.1:6370.
	Listen string
	// NATSURL and DC name the datacenter whose topology the gateway
	// follows.
	NATSURL string
	DC      string
	// Keyspace is the keyspace of a new connection.
	Keyspace string
	// Logger receives the gateway's logs.
	Logger hclog.Logger
	// Client tunes the client the gateway routes with (pool size,
	// timeouts, retries); its NATSURL, DC and Logger are the gateway's.
	Client client.Config
	// MaxConns bounds concurrent client connections.
	MaxConns int
	// MaxPipeline bounds how many pipelined commands are sent on as one
	// batch before their replies are flushed.
	MaxPipeline int
	// Limits bound what one command may carry.
	Limits resp.Limits
	// WriteTimeout bounds one write of replies to a client: a client that
	// reads nothing for that long is disconnected.
	WriteTimeout time.Duration
	// RequestTimeout bounds one batch of commands sent to the stores,
	// retries included.
	RequestTimeout time.Duration
	// DrainTimeout is how long Shutdown lets connections answer what they
	// have read before it closes them.
	DrainTimeout time.Duration
	// MaxKeys bounds how many keys KEYS may scan before it fails (use
	// SCAN for more).
	MaxKeys int
	// MaxBatches bounds the merged batches in flight: the batches that
	// connections send while that many are in flight are merged into the
	// next one (one pipeline per store for all of them).
	MaxBatches int
	// Observer, if set, is told of every command answered (for metrics).
	Observer Observer
	// ACL, when not nil, makes every connection authenticate (AUTH user
	// password, or HELLO 2 AUTH user password) and checks each command
	// against the user's rights on the connection's keyspace before
	// anything is sent to a store. nil: no authentication. SetACL
	// replaces it while the gateway runs. The gateway's own credentials
	// at the stores are Client.Username and Client.Password.
	ACL *acl.ACL
	// TLS, when set, makes the listener speak TLS only (secure.TLSFiles
	// Server builds it); a client speaking plaintext is answered
	// resp.TLSRequiredReply and closed. The gateway dials the stores with
	// Client.TLS.
	TLS *tls.Config
}

// DefaultConfig returns a Config with defaults filled in.
func DefaultConfig(listen, natsURL, dc string) Config {
	lim := resp.DefaultLimits()
	lim.MaxArgSize = client.MaxValueSize
	cc := client.DefaultConfig(natsURL, dc)
	cc.PoolSize = DefaultPoolSize
	return Config{
		Listen:         listen,
		NATSURL:        natsURL,
		DC:             dc,
		Keyspace:       DefaultKeyspace,
		Logger:         hclog.NewNullLogger(),
		Client:         cc,
		MaxConns:       10000,
		MaxPipeline:    1024,
		Limits:         lim,
		WriteTimeout:   DefaultWriteTimeout,
		RequestTimeout: DefaultRequestTimeout,
		DrainTimeout:   time.Second,
		MaxKeys:        DefaultMaxKeys,
		MaxBatches:     DefaultMaxBatches,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Listen == "":
		return bad("empty listen address")
	case c.NATSURL == "":
		return bad("empty NATS URL")
	case !topology.ValidName(c.DC):
		return bad("DC %q: use 1-64 of A-Z a-z 0-9 - _", c.DC)
	case !topology.ValidName(c.Keyspace):
		return bad("keyspace %q: use 1-64 of A-Z a-z 0-9 - _", c.Keyspace)
	case c.Logger == nil:
		return bad("nil logger")
	case c.MaxConns <= 0 || c.MaxPipeline <= 0:
		return bad("max conns and max pipeline must be positive")
	case c.WriteTimeout <= 0 || c.RequestTimeout <= 0:
		return bad("write and request timeouts must be positive")
	case c.DrainTimeout < 0:
		return bad("negative drain timeout")
	case c.MaxKeys <= 0 || c.MaxBatches <= 0:
		return bad("max keys and max batches must be positive")
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cc := c.Client
	cc.NATSURL, cc.DC = c.NATSURL, c.DC
	if err := cc.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
