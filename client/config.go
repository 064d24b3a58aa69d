package client

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vasto-kv/vasto/lww"
	"github.com/vasto-kv/vasto/topology"
)

// Defaults of Config.
const (
	DefaultPoolSize = 16
	// DefaultPipelines is the number of shared connections per store.
	DefaultPipelines    = 2
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	// DefaultMaxRetries covers a replica catching up after a restart or a
	// keyspace change (about a second): attempts back off from 25 ms to 1 s.
	DefaultMaxRetries = 8
	// DefaultHedgeAfter is how long a read waits for its replica's reply
	// before it is sent to a second replica as well.
	DefaultHedgeAfter = 50 * time.Millisecond
	// DefaultAttemptTimeout bounds one attempt on a replica while the shard
	// has another replica to retry on: well under the 1.5 s the master
	// takes to mark a silent store down.
	DefaultAttemptTimeout = 500 * time.Millisecond
)

// maxPipelines bounds Config.Pipelines: more shared connections only split
// the batches.
const maxPipelines = 64

// Config configures a Client. The zero value of every field except NATSURL
// and DC means its default.
type Config struct {
	// NATSURL is the URL of the DC's NATS server(s), e.g.
	// "nats://127.0.0.1:4222" (several separated by commas).
	NATSURL string
	// DC names the datacenter whose topology the client follows and whose
	// master it sends admin requests to.
	DC string
	// NATSCreds names the file of the client's NATS credentials (an nkey
	// seed file of the client or admin role, or a JWT .creds file); empty:
	// none. The file must be readable by its owner only.
	NATSCreds string
	// NATSTLS, if set, makes the client's NATS connection speak TLS (the
	// server must offer it). nil: plaintext, or what a tls:// URL asks.
	NATSTLS *tls.Config
	// Logger receives the client's logs; default: discard.
	Logger hclog.Logger
	// Pipelines is the number of connections per store that the calls
	// share: each sends the requests of every call waiting for it in one
	// write and matches the replies in order (automatic pipelining), so
	// concurrent calls to a store cost one round trip together. Default 2.
	Pipelines int
	// PoolSize bounds the dedicated connections per store, one per call in
	// progress, of the calls that wait server-side and would hold up the
	// shared connections: writes WithAck above AckLocal, reads WithAfter,
	// the second request of a hedged read, and Do or DoOn commands that
	// block (WAIT, BLPOP, ..., AFTER, ACK). A call waits for a free one.
	// Default 16.
	PoolSize int
	// DialTimeout bounds connecting to a store; default 2 s.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound one socket read or write to a
	// store; default 3 s. A context deadline that comes first wins.
	ReadTimeout, WriteTimeout time.Duration
	// MaxRetries is how many times an operation is sent again after a
	// retryable failure (connection error, NOSHARD, CLOSED, CATCHUP, IOERR,
	// no healthy replica), so it makes at most 1+MaxRetries attempts.
	// 0 means the default, 8; a negative value disables retries.
	MaxRetries int
	// HedgeAfter is how long a read (Get, BatchGet) waits for the replica
	// it was sent to before the same read goes to a second replica of the
	// shard too; the first good reply wins and the other request is
	// abandoned. The second replica first waits (briefly) for this client's
	// latest write of the shard, so a hedge does not answer older data.
	// At most one hedge per attempt; writes, scans and reads WithAfter are
	// not hedged. 0 means the default, 50 ms; a negative value disables
	// hedging.
	HedgeAfter time.Duration
	// AttemptTimeout bounds one attempt on a replica (connection wait, dial,
	// send and reply) while the shard has another healthy replica the
	// operation has not tried: a request that gets no reply in time is
	// abandoned, its connection closed, and it is retried on that replica
	// (a write with the same event time, see WithEventTime). A read that
	// waits for a token (WithAfter) gets its wait on top. With no other
	// replica to try, only ReadTimeout and WriteTimeout bound the attempt.
	// 0 means the default, 500 ms; a negative value disables it.
	AttemptTimeout time.Duration
	// Username and Password are the credentials the client presents to
	// every store (HELLO 2 AUTH username password when it connects). An
	// empty Username with a Password authenticates as the default user;
	// an empty Password sends none. Stores without an ACL accept any.
	// Keep the Config out of logs: Password is the secret itself.
	Username string
	Password string
	// TLS, when set, makes every connection to a store speak TLS (a
	// secure.TLSFiles Client builds one); its ServerName, when empty, is
	// each store's host. nil: plaintext.
	TLS *tls.Config
	// Clock is the wall clock the client's hybrid clock stamps writes
	// without an event time from; nil means the system clock. Drills give
	// a skewed one to model a client host whose clock is off.
	Clock lww.Clock
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig(natsURL, dc string) Config {
	return Config{
		NATSURL:        natsURL,
		DC:             dc,
		Logger:         hclog.NewNullLogger(),
		PoolSize:       DefaultPoolSize,
		Pipelines:      DefaultPipelines,
		DialTimeout:    DefaultDialTimeout,
		ReadTimeout:    DefaultReadTimeout,
		WriteTimeout:   DefaultWriteTimeout,
		MaxRetries:     DefaultMaxRetries,
		HedgeAfter:     DefaultHedgeAfter,
		AttemptTimeout: DefaultAttemptTimeout,
	}
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig(c.NATSURL, c.DC)
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.PoolSize == 0 {
		c.PoolSize = d.PoolSize
	}
	if c.Pipelines == 0 {
		c.Pipelines = d.Pipelines
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	if c.HedgeAfter == 0 {
		c.HedgeAfter = d.HedgeAfter
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = d.AttemptTimeout
	}
	return c
}

// attempts is the most attempts an operation makes.
func (c Config) attempts() int {
	if c.MaxRetries < 0 {
		return 1
	}
	return 1 + c.MaxRetries
}

// Validate reports an invalid configuration with an error wrapping
// ErrInvalid (or ErrBadName for the DC). Zero values are valid (defaults).
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: config: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case c.NATSURL == "":
		return bad("NATSURL is empty")
	case !topology.ValidName(c.DC):
		return fmt.Errorf("%w: config: DC %q: use 1-64 of A-Z a-z 0-9 - _", ErrBadName, c.DC)
	case c.PoolSize < 0:
		return bad("PoolSize %d is negative", c.PoolSize)
	case c.Pipelines < 0:
		return bad("Pipelines %d is negative", c.Pipelines)
	case c.Pipelines > maxPipelines:
		return bad("Pipelines %d is over %d", c.Pipelines, maxPipelines)
	case c.DialTimeout < 0:
		return bad("DialTimeout %v is negative", c.DialTimeout)
	case c.ReadTimeout < 0:
		return bad("ReadTimeout %v is negative", c.ReadTimeout)
	case c.WriteTimeout < 0:
		return bad("WriteTimeout %v is negative", c.WriteTimeout)
	case c.Username != "" && c.Password == "":
		return bad("Username %q without a Password", c.Username)
	}
	return nil
}
