package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vasto-kv/vasto/wire"
)

// ErrBehind is returned by a read that waited for a write (a read-your-writes
// token) which this replica has not applied within the wait.
var ErrBehind = errors.New("store: replica has not applied the write yet")

// Token names one accepted write for read-your-writes (see wire.Token).
type Token = wire.Token

// HasApplied reports whether this shard holds the token's write: it took
// the write itself, or its cursor for the write's origin has passed it.
func (s *Shard) HasApplied(t Token) (bool, error) {
	cfg := s.e.cfg
	if t.DC == cfg.DC && t.Store == cfg.Node {
		_, last := s.LogBounds()
		return t.Index <= last, nil
	}
	src := PeerSource(t.Store)
	if t.DC != cfg.DC {
		src = RemoteSource(t.DC, t.Store, strconv.FormatUint(uint64(t.Shard), 10))
	}
	cur, err := s.Cursor(src)
	return cur >= t.Index, err
}

// WaitApplied waits until the shard has applied the token's write, polling
// every millisecond, or returns ErrBehind after timeout.
func (s *Shard) WaitApplied(ctx context.Context, t Token, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := s.HasApplied(t)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s within %s", ErrBehind, t, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
