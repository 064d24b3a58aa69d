package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vasto-kv/vasto/lww"
)

// ErrBehind is returned by a read that waited for a write (a read-your-writes
// token) which this replica has not applied within the wait.
var ErrBehind = errors.New("store: replica has not applied the write yet")

// Token names one accepted write for read-your-writes across replicas and
// DCs: the DC and store that accepted it, its shard in that DC's layout, and
// its index in that shard's change log. Written as "dc:store:shard:index".
type Token struct {
	DC    string
	Store string
	Shard uint32
	Index uint64
}

// String formats the token.
func (t Token) String() string {
	return t.DC + ":" + t.Store + ":" + strconv.FormatUint(uint64(t.Shard), 10) + ":" + strconv.FormatUint(t.Index, 10)
}

// ParseToken parses "dc:store:shard:index".
func ParseToken(s string) (Token, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 || !lww.ValidName(parts[0]) || !lww.ValidName(parts[1]) {
		return Token{}, fmt.Errorf("%w: token %q is not dc:store:shard:index", errSyntax, clip([]byte(s)))
	}
	shard, err1 := strconv.ParseUint(parts[2], 10, 32)
	idx, err2 := strconv.ParseUint(parts[3], 10, 64)
	if err1 != nil || err2 != nil || idx == 0 {
		return Token{}, fmt.Errorf("%w: token %q is not dc:store:shard:index", errSyntax, clip([]byte(s)))
	}
	return Token{DC: parts[0], Store: parts[1], Shard: uint32(shard), Index: idx}, nil
}

// HasApplied reports whether this shard holds the token's write: it took
// the write itself, or its cursor for the write's origin has passed it.
func (s *Shard) HasApplied(t Token) (bool, error) {
	cfg := s.e.cfg
	if t.DC == cfg.DC && t.Store == cfg.Node {
		_, last := s.LogBounds()
		return t.Index <= last, nil
	}
	src := peerSource(t.Store)
	if t.DC != cfg.DC {
		src = xdcSource(t.DC, t.Store, strconv.FormatUint(uint64(t.Shard), 10))
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
