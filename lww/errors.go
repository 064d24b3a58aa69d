package lww

import "errors"

// Sentinel errors. Callers test them with errors.Is; returned errors wrap them
// with detail.
var (
	// ErrEventTimeNotPositive is returned for an event time that is zero or
	// negative.
	ErrEventTimeNotPositive = errors.New("lww: event time must be positive")
	// ErrEventTimeInFuture is returned for an event time further ahead of the
	// local clock than the configured bound.
	ErrEventTimeInFuture = errors.New("lww: event time too far in the future")
	// ErrInvalidTTL is returned for a TTL that is zero or negative.
	ErrInvalidTTL = errors.New("lww: ttl must be positive")
	// ErrExpiryOverflow is returned when event time plus TTL overflows int64.
	ErrExpiryOverflow = errors.New("lww: event time plus ttl overflows")
	// ErrInvalidRecord is returned for a record that breaks an invariant
	// (unknown kind, tombstone with a value, expiry not after the event time,
	// origin names too long or malformed).
	ErrInvalidRecord = errors.New("lww: invalid record")
	// ErrCorrupt is returned by the decoders for bytes that are not a valid
	// encoding.
	ErrCorrupt = errors.New("lww: corrupt encoding")
	// ErrUnknownFormat is returned by the decoders for an unknown leading
	// format byte.
	ErrUnknownFormat = errors.New("lww: unknown format")
)
