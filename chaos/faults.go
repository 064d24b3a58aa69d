package chaos

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/vasto-kv/vasto/bus"
	"github.com/vasto-kv/vasto/internal/secure"
	"github.com/vasto-kv/vasto/topology"
)

// Store faults, driven over a store's RESP port with VFAULT (the store must
// run with --allow-faults; otherwise each of these fails with the store's
// NOFAULTS error).

// storeRequestTimeout bounds one request to a store.
const storeRequestTimeout = 10 * time.Second

// storeTLSKey is the context key of WithStoreTLS.
type storeTLSKey struct{}

// WithStoreTLS returns ctx whose requests to stores (faults, dumps,
// digests: every function of this package given it) dial the stores over
// TLS with cfg, its ServerName defaulting to each store's host. nil:
// plaintext, as without it.
func WithStoreTLS(ctx context.Context, cfg *tls.Config) context.Context {
	return context.WithValue(ctx, storeTLSKey{}, cfg)
}

// dialStore returns a one-connection RESP client of the store at addr that
// never retries (a retried CRASH would hit a restarted store), over TLS
// when ctx says so (WithStoreTLS).
func dialStore(ctx context.Context, addr string) *redis.Client {
	cfg, _ := ctx.Value(storeTLSKey{}).(*tls.Config)
	return redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true,
		PoolSize: 1, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: 5 * time.Second, ReadTimeout: storeRequestTimeout, WriteTimeout: storeRequestTimeout,
		ContextTimeoutEnabled: true, TLSConfig: secure.ForAddr(cfg, addr),
	})
}

// fault sends VFAULT args... to the store at addr and returns the reply.
func fault(ctx context.Context, addr string, args ...any) (any, error) {
	rc := dialStore(ctx, addr)
	defer rc.Close()
	v, err := rc.Do(ctx, append([]any{"VFAULT"}, args...)...).Result()
	if err != nil {
		return nil, fmt.Errorf("chaos: store %s: %w", addr, err)
	}
	return v, nil
}

// SkewStore sets the clock skew of the store at addr (absolute: 0 clears
// it; negative puts the store behind).
func SkewStore(ctx context.Context, addr string, skew time.Duration) error {
	_, err := fault(ctx, addr, "SKEW", int64(skew))
	return err
}

// CrashStore makes the store at addr exit at once, flushing and closing
// nothing. The store answers nothing: the connection ending is success.
func CrashStore(ctx context.Context, addr string) error {
	_, err := fault(ctx, addr, "CRASH")
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// PauseReplication stops the store at addr from applying other DCs'
// changes for d (0 resumes at once); the changes wait on NATS.
func PauseReplication(ctx context.Context, addr string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: negative pause %s", ErrInvalidArgument, d)
	}
	_, err := fault(ctx, addr, "PAUSE-XDC", d.Milliseconds())
	return err
}

// FaultStatus is the faults a store has in force (VFAULT STATUS).
type FaultStatus struct {
	Skew time.Duration
	// XDCPausedUntil is when the cross-DC pause ends (zero: not paused).
	XDCPausedUntil time.Time
}

// StoreFaults reads the faults in force on the store at addr.
func StoreFaults(ctx context.Context, addr string) (FaultStatus, error) {
	v, err := fault(ctx, addr, "STATUS")
	if err != nil {
		return FaultStatus{}, err
	}
	s, ok := v.(string)
	if !ok {
		return FaultStatus{}, fmt.Errorf("%w: VFAULT STATUS reply %T", ErrBadReply, v)
	}
	return parseFaultStatus(s)
}

// parseFaultStatus reads the key=value lines of VFAULT STATUS; unknown
// keys are ignored so stores may report more.
func parseFaultStatus(s string) (FaultStatus, error) {
	var st FaultStatus
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		n, err := strconv.ParseInt(v, 10, 64)
		switch k {
		case "skew_ns":
			st.Skew = time.Duration(n)
		case "xdc_paused_until_unix_ms":
			if n > 0 {
				st.XDCPausedUntil = time.UnixMilli(n)
			}
		default:
			continue
		}
		if err != nil {
			return FaultStatus{}, fmt.Errorf("%w: VFAULT STATUS line %q", ErrBadReply, line)
		}
	}
	return st, nil
}

// DC names a datacenter and the NATS URL its topology is read from.
type DC struct {
	Name    string
	NATSURL string
	// NATSCreds names the NATS credentials file to connect with (the
	// client role reads the topology); empty: none.
	NATSCreds string
	// NATSTLS, if set, makes the NATS connection TLS.
	NATSTLS *tls.Config
}

// readTopology reads dc's topology from its NATS.
func readTopology(ctx context.Context, dc DC, log hclog.Logger) (*topology.Topology, error) {
	if err := topology.CheckName("dc", dc.Name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: dc.NATSURL, Name: "vasto-chaos", Logger: log,
		CredsFile: dc.NATSCreds, TLS: dc.NATSTLS})
	if err != nil {
		return nil, fmt.Errorf("chaos: connect to %s: %w", dc.Name, err)
	}
	defer conn.Close()
	doc, _, err := conn.GetTopology(ctx, dc.Name)
	if err != nil {
		return nil, fmt.Errorf("chaos: topology of %s: %w", dc.Name, err)
	}
	t, err := topology.Decode(doc)
	if err != nil {
		return nil, fmt.Errorf("chaos: topology of %s: %w", dc.Name, err)
	}
	return t, nil
}

// DCStores returns the RESP addresses of every store dc's topology lists,
// sorted by store id. log receives the NATS connection's logs (nil:
// none).
func DCStores(ctx context.Context, dc DC, log hclog.Logger) ([]string, error) {
	t, err := readTopology(ctx, dc, log)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, id := range t.StoreIDs() {
		addrs = append(addrs, t.Stores[id].Addr)
	}
	return addrs, nil
}
