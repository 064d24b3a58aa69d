package lww

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// These tests use only the standard library (plus goleak for the concurrent
// clock tests) and the property harness in prop_test.go, so they build
// whatever test-only modules go.mod happens to require.

// sameRecord reports whether a and b hold the same state. It is written
// independently of Compare so a bug there cannot hide a bug in Merge. A nil
// and an empty value are the same state (the decoder returns an empty,
// non-nil value for an empty value record).
func sameRecord(a, b Record) bool {
	return a.Version == b.Version && a.Kind == b.Kind && a.ExpiresAt == b.ExpiresAt &&
		bytes.Equal(a.Value, b.Value)
}

func fmtRecord(r Record) string {
	v := "nil"
	if r.Value != nil {
		v = fmt.Sprintf("%q", r.Value)
	}
	return fmt.Sprintf("{%s %s exp=%d val=%s}", r.Version, r.Kind, r.ExpiresAt, v)
}

type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func requireSame(t tb, want, got Record, what string) {
	t.Helper()
	if !sameRecord(want, got) {
		t.Fatalf("%s: want %s, got %s", what, fmtRecord(want), fmtRecord(got))
	}
}

func requireIs(t tb, err, sentinel error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error wrapping %q, got nil", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("want error wrapping %q, got %q", sentinel, err)
	}
}

func requireNoErr(t tb, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// allSentinels lists every sentinel so a test can check that an error wraps
// exactly the one expected.
var allSentinels = []error{
	ErrEventTimeNotPositive, ErrEventTimeInFuture, ErrInvalidTTL, ErrExpiryOverflow,
	ErrInvalidRecord, ErrCorrupt, ErrUnknownFormat,
}

func requireOnly(t tb, err, sentinel error) {
	t.Helper()
	requireIs(t, err, sentinel)
	for _, s := range allSentinels {
		if !errors.Is(s, sentinel) && errors.Is(err, s) {
			t.Fatalf("error %q wraps %q as well as %q", err, s, sentinel)
		}
	}
}

// refCompare is an independent reference for the documented total order:
// time, DC bytewise, node bytewise, kind (tombstone above value), expiry,
// value bytes.
func refCompare(a, b Record) int {
	cmpInt := func(x, y int64) int {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	cmpStr := func(x, y []byte) int {
		for i := 0; i < len(x) && i < len(y); i++ {
			if x[i] != y[i] {
				if x[i] < y[i] {
					return -1
				}
				return 1
			}
		}
		return cmpInt(int64(len(x)), int64(len(y)))
	}
	if c := cmpInt(a.Version.Time, b.Version.Time); c != 0 {
		return c
	}
	if c := cmpStr([]byte(a.Version.DC), []byte(b.Version.DC)); c != 0 {
		return c
	}
	if c := cmpStr([]byte(a.Version.Node), []byte(b.Version.Node)); c != 0 {
		return c
	}
	if c := cmpInt(int64(a.Kind), int64(b.Kind)); c != 0 {
		return c
	}
	if c := cmpInt(a.ExpiresAt, b.ExpiresAt); c != 0 {
		return c
	}
	return cmpStr(a.Value, b.Value)
}

// Generators. The "colliding" generators draw from small sets so that equal
// times, equal versions and equal versions with different content are common.

var (
	smallDCs   = []string{"a", "b", "B", "dc-1", "dc_1"}
	smallNodes = []string{"n", "n1", "n2", "N", "n-1"}
	smallVals  = [][]byte{nil, {}, []byte("x"), []byte("y"), []byte("xy"), {0}, {0xff}}
)

const nameAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

func genValidName() gen[string] {
	return custom(func(t *propT) string {
		n := genIntRange(1, MaxNameLen).Draw(t, "len")
		b := make([]byte, n)
		for i := range b {
			b[i] = nameAlphabet[genIntRange(0, len(nameAlphabet)-1).Draw(t, "c")]
		}
		return string(b)
	})
}

// genCollidingVersion draws versions from a tiny space.
func genCollidingVersion() gen[Version] {
	return custom(func(t *propT) Version {
		return Version{
			Time: genInt64Range(1, 4).Draw(t, "time"),
			DC:   sampledFrom(smallDCs).Draw(t, "dc"),
			Node: sampledFrom(smallNodes).Draw(t, "node"),
		}
	})
}

// genCollidingRecord draws valid records from a small space: values,
// tombstones, expired and expiring records, equal versions with different
// content.
func genCollidingRecord() gen[Record] {
	return custom(func(t *propT) Record {
		r := Record{Version: genCollidingVersion().Draw(t, "version")}
		if genBool().Draw(t, "tombstone") {
			r.Kind = KindTombstone
		} else {
			r.Kind = KindValue
			r.Value = sampledFrom(smallVals).Draw(t, "value")
		}
		if genBool().Draw(t, "hasExpiry") {
			r.ExpiresAt = r.Version.Time + genInt64Range(1, 3).Draw(t, "ttl")
		}
		return r
	})
}

// genWideRecord draws valid records from the whole domain.
func genWideRecord() gen[Record] {
	return custom(func(t *propT) Record {
		r := Record{Version: Version{
			Time: oneOf(genInt64Range(1, 1<<20), genInt64Range(1, math.MaxInt64), sampledFrom(varintEdges)).Draw(t, "time"),
			DC:   genValidName().Draw(t, "dc"),
			Node: genValidName().Draw(t, "node"),
		}}
		if genBool().Draw(t, "tombstone") {
			r.Kind = KindTombstone
		} else {
			r.Kind = KindValue
			r.Value = sliceOfN(genByte(), 0, 300).Draw(t, "value")
		}
		if r.Version.Time < math.MaxInt64 && genBool().Draw(t, "hasExpiry") {
			var edges []int64
			for _, e := range varintEdges {
				if e > r.Version.Time {
					edges = append(edges, e)
				}
			}
			r.ExpiresAt = oneOf(genInt64Range(r.Version.Time+1, math.MaxInt64), sampledFrom(edges)).Draw(t, "expiry")
		}
		return r
	})
}

// varintEdges are the positive int64s on either side of a uvarint length
// change (2^7k - 1 and 2^7k), and the largest.
var varintEdges = func() []int64 {
	var es []int64
	for k := 1; k*7 < 63; k++ {
		es = append(es, int64(1)<<(7*k)-1, int64(1)<<(7*k))
	}
	return append(es, math.MaxInt64)
}()

// genAnyRecord is either kind of generated record.
func genAnyRecord() gen[Record] {
	return oneOf(genCollidingRecord(), genWideRecord())
}
