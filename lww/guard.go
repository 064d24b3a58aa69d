package lww

import (
	"fmt"
	"math"
	"time"
)

// DefaultMaxFuture is how far ahead of the local clock an event time may be.
const DefaultMaxFuture = 5 * time.Second

// Guard holds the rules that keep one bad clock from winning forever.
type Guard struct {
	// MaxFuture bounds how far an event time may be ahead of the local clock.
	MaxFuture time.Duration
}

// DefaultGuard returns a Guard with DefaultMaxFuture.
func DefaultGuard() Guard { return Guard{MaxFuture: DefaultMaxFuture} }

// CheckEventTime rejects an event time that is not positive or that is more
// than MaxFuture ahead of now.
func (g Guard) CheckEventTime(eventTime, now int64) error {
	if eventTime <= 0 {
		return errorf(ErrEventTimeNotPositive, "event time %d", eventTime)
	}
	limit := now
	if g.MaxFuture > 0 {
		limit = math.MaxInt64 // saturate: now+MaxFuture would overflow
		if now <= math.MaxInt64-int64(g.MaxFuture) {
			limit = now + int64(g.MaxFuture)
		}
	}
	if eventTime > limit {
		return errorf(ErrEventTimeInFuture, "event time %d is %s ahead of the local clock (limit %s)",
			eventTime, time.Duration(eventTime-now), g.MaxFuture)
	}
	return nil
}

// CheckLocal validates a record about to be accepted from a client: its
// structure and its event time against now.
func (g Guard) CheckLocal(r Record, now int64) error {
	if err := g.CheckEventTime(r.Version.Time, now); err != nil {
		return err
	}
	return r.Validate()
}

// ExpiryFor returns the absolute expiry of a write at eventTime that lives for
// ttl. It rejects a TTL that is not positive and one whose sum overflows.
func ExpiryFor(eventTime int64, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, errorf(ErrInvalidTTL, "ttl %s", ttl)
	}
	if eventTime <= 0 {
		return 0, errorf(ErrEventTimeNotPositive, "event time %d", eventTime)
	}
	if eventTime > math.MaxInt64-int64(ttl) {
		return 0, errorf(ErrExpiryOverflow, "event time %d plus ttl %s", eventTime, ttl)
	}
	return eventTime + int64(ttl), nil
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
