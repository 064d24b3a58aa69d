package lww

import "bytes"

// Kind says whether a record holds a value or marks a deletion.
type Kind uint8

const (
	// KindValue is a record that holds a value.
	KindValue Kind = 1
	// KindTombstone is a record that marks the key deleted.
	KindTombstone Kind = 2
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindValue:
		return "value"
	case KindTombstone:
		return "tombstone"
	}
	return "unknown"
}

// Record is the state of one key: a value or a tombstone, with its version and
// an optional absolute expiry.
type Record struct {
	Version Version
	Kind    Kind
	// Value is nil for a tombstone.
	Value []byte
	// ExpiresAt is the absolute expiry in nanoseconds since the Unix epoch;
	// zero means the record never expires.
	ExpiresAt int64
}

// IsTombstone reports whether r marks a deletion.
func (r Record) IsTombstone() bool { return r.Kind == KindTombstone }

// Expired reports whether r has an expiry at or before now.
func (r Record) Expired(now int64) bool { return r.ExpiresAt != 0 && r.ExpiresAt <= now }

// Live reports whether r is a value that has not expired at now: the only
// records a read returns.
func (r Record) Live(now int64) bool { return r.Kind == KindValue && !r.Expired(now) }

// DeadSince returns when r stopped (or will stop) being visible: its expiry
// if it has one, else the event time of a tombstone, else 0 for a value that
// never expires. A tombstone may carry an expiry when it replaced an expired
// value, so it is kept as long as that value would have been. Purging uses
// DeadSince to decide when a record may be forgotten.
func (r Record) DeadSince() int64 {
	if r.ExpiresAt != 0 {
		return r.ExpiresAt
	}
	if r.Kind == KindTombstone {
		return r.Version.Time
	}
	return 0
}

// Buried returns the tombstone that stands for r once r has expired: the same
// version and expiry, without the value. Stores keep it in place of an
// expired value so an older write that arrives late cannot resurrect the key.
func (r Record) Buried() Record {
	return Record{Version: r.Version, Kind: KindTombstone, ExpiresAt: r.ExpiresAt}
}

// Compare orders records totally: by version, then by kind (tombstone above
// value), then by expiry, then by value bytes.
func Compare(a, b Record) int {
	if c := a.Version.Compare(b.Version); c != 0 {
		return c
	}
	switch {
	case a.Kind < b.Kind:
		return -1
	case a.Kind > b.Kind:
		return 1
	}
	switch {
	case a.ExpiresAt < b.ExpiresAt:
		return -1
	case a.ExpiresAt > b.ExpiresAt:
		return 1
	}
	return bytes.Compare(a.Value, b.Value)
}

// Merge returns the winner of a and b. It is commutative, associative and
// idempotent, so replicas that merge the same set of records in any order and
// with any duplication reach the same state.
func Merge(a, b Record) Record {
	if Compare(a, b) >= 0 {
		return a
	}
	return b
}

// Wins reports whether candidate strictly beats existing and so must replace
// it. A record that equals the stored one does not win: applying the same
// write twice changes nothing.
func Wins(candidate, existing Record) bool { return Compare(candidate, existing) > 0 }

// Validate checks the structural invariants of r: a known kind, a positive
// event time, no value on a tombstone, an expiry after the event time, and
// valid origin names. It does not look at the clock; see Guard for that.
func (r Record) Validate() error {
	switch {
	case r.Kind != KindValue && r.Kind != KindTombstone:
		return errorf(ErrInvalidRecord, "unknown kind %d", r.Kind)
	case r.Version.Time <= 0:
		return errorf(ErrEventTimeNotPositive, "event time %d", r.Version.Time)
	case r.Kind == KindTombstone && len(r.Value) != 0:
		return errorf(ErrInvalidRecord, "tombstone carries a value")
	case r.ExpiresAt < 0 || (r.ExpiresAt != 0 && r.ExpiresAt <= r.Version.Time):
		return errorf(ErrInvalidRecord, "expiry %d not after event time %d", r.ExpiresAt, r.Version.Time)
	case !ValidName(r.Version.DC):
		return errorf(ErrInvalidRecord, "bad origin dc %q", r.Version.DC)
	case !ValidName(r.Version.Node):
		return errorf(ErrInvalidRecord, "bad origin node %q", r.Version.Node)
	}
	return nil
}
