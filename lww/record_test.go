package lww

import (
	"math"
	"strings"
	"testing"
)

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindValue: "value", KindTombstone: "tombstone", 0: "unknown", 3: "unknown", 255: "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
	if KindValue != 1 || KindTombstone != 2 {
		t.Fatalf("kind constants changed (value=%d tombstone=%d); they are part of the wire format", KindValue, KindTombstone)
	}
}

func TestValidateAccepts(t *testing.T) {
	v := Version{Time: 100, DC: "dc-1", Node: "n_1"}
	for name, r := range map[string]Record{
		"value":                     {Version: v, Kind: KindValue, Value: []byte("x")},
		"empty value":               {Version: v, Kind: KindValue, Value: []byte{}},
		"nil value":                 {Version: v, Kind: KindValue},
		"value with expiry":         {Version: v, Kind: KindValue, Value: []byte("x"), ExpiresAt: 101},
		"tombstone":                 {Version: v, Kind: KindTombstone},
		"tombstone empty non-nil":   {Version: v, Kind: KindTombstone, Value: []byte{}},
		"tombstone with expiry":     {Version: v, Kind: KindTombstone, ExpiresAt: 500},
		"time 1":                    {Version: Version{Time: 1, DC: "a", Node: "b"}, Kind: KindValue},
		"max time":                  {Version: Version{Time: math.MaxInt64, DC: "a", Node: "b"}, Kind: KindTombstone},
		"max expiry":                {Version: v, Kind: KindValue, ExpiresAt: math.MaxInt64},
		"64-byte names":             {Version: Version{Time: 1, DC: strings.Repeat("d", 64), Node: strings.Repeat("n", 64)}, Kind: KindValue},
		"expiry one ns after event": {Version: Version{Time: math.MaxInt64 - 1, DC: "a", Node: "b"}, Kind: KindValue, ExpiresAt: math.MaxInt64},
	} {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: Validate(%s) = %v, want nil", name, fmtRecord(r), err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	v := Version{Time: 100, DC: "dc-1", Node: "n_1"}
	with := func(f func(*Record)) Record {
		r := Record{Version: v, Kind: KindValue, Value: []byte("x")}
		f(&r)
		return r
	}
	cases := []struct {
		name string
		r    Record
		want error
	}{
		{"kind 0", with(func(r *Record) { r.Kind = 0 }), ErrInvalidRecord},
		{"kind 3", with(func(r *Record) { r.Kind = 3 }), ErrInvalidRecord},
		{"kind 255", with(func(r *Record) { r.Kind = 255 }), ErrInvalidRecord},
		{"zero record", Record{}, ErrInvalidRecord},
		{"time 0", with(func(r *Record) { r.Version.Time = 0 }), ErrEventTimeNotPositive},
		{"time -1", with(func(r *Record) { r.Version.Time = -1 }), ErrEventTimeNotPositive},
		{"time min", with(func(r *Record) { r.Version.Time = math.MinInt64 }), ErrEventTimeNotPositive},
		{"tombstone 0 time", Record{Version: Version{DC: "a", Node: "b"}, Kind: KindTombstone}, ErrEventTimeNotPositive},
		{"tombstone with value", with(func(r *Record) { r.Kind = KindTombstone }), ErrInvalidRecord},
		{"tombstone with 1 zero byte", Record{Version: v, Kind: KindTombstone, Value: []byte{0}}, ErrInvalidRecord},
		{"expiry negative", with(func(r *Record) { r.ExpiresAt = -1 }), ErrInvalidRecord},
		{"expiry min", with(func(r *Record) { r.ExpiresAt = math.MinInt64 }), ErrInvalidRecord},
		{"expiry equals event time", with(func(r *Record) { r.ExpiresAt = 100 }), ErrInvalidRecord},
		{"expiry before event time", with(func(r *Record) { r.ExpiresAt = 99 }), ErrInvalidRecord},
		{"expiry 1 before event time", with(func(r *Record) { r.ExpiresAt = 1 }), ErrInvalidRecord},
		{"tombstone expiry equals event time", Record{Version: v, Kind: KindTombstone, ExpiresAt: 100}, ErrInvalidRecord},
		{"empty dc", with(func(r *Record) { r.Version.DC = "" }), ErrInvalidRecord},
		{"dc with dot", with(func(r *Record) { r.Version.DC = "dc.1" }), ErrInvalidRecord},
		{"dc wildcard", with(func(r *Record) { r.Version.DC = "*" }), ErrInvalidRecord},
		{"dc 65 bytes", with(func(r *Record) { r.Version.DC = strings.Repeat("d", 65) }), ErrInvalidRecord},
		{"empty node", with(func(r *Record) { r.Version.Node = "" }), ErrInvalidRecord},
		{"node with space", with(func(r *Record) { r.Version.Node = "n 1" }), ErrInvalidRecord},
		{"node >", with(func(r *Record) { r.Version.Node = ">" }), ErrInvalidRecord},
		{"node 65 bytes", with(func(r *Record) { r.Version.Node = strings.Repeat("n", 65) }), ErrInvalidRecord},
		{"node unicode", with(func(r *Record) { r.Version.Node = "nœud" }), ErrInvalidRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireOnly(t, c.r.Validate(), c.want)
		})
	}
}

func TestExpiredLiveDeadSince(t *testing.T) {
	v := Version{Time: 100, DC: "a", Node: "n"}
	val := Record{Version: v, Kind: KindValue, Value: []byte("x")}
	exp := Record{Version: v, Kind: KindValue, Value: []byte("x"), ExpiresAt: 200}
	tomb := Record{Version: v, Kind: KindTombstone}
	buriedTomb := Record{Version: v, Kind: KindTombstone, ExpiresAt: 200}

	checks := []struct {
		name          string
		r             Record
		now           int64
		expired, live bool
	}{
		{"value, no expiry, before event", val, 0, false, true},
		{"value, no expiry, far future", val, math.MaxInt64, false, true},
		{"value, no expiry, negative now", val, math.MinInt64, false, true},
		{"expiring value, before expiry", exp, 199, false, true},
		{"expiring value, at expiry", exp, 200, true, false},
		{"expiring value, after expiry", exp, 201, true, false},
		{"expiring value, long before", exp, math.MinInt64, false, true},
		{"tombstone, any time", tomb, 50, false, false},
		{"tombstone, far future", tomb, math.MaxInt64, false, false},
		{"tombstone with expiry, before", buriedTomb, 199, false, false},
		{"tombstone with expiry, at", buriedTomb, 200, true, false},
	}
	for _, c := range checks {
		if got := c.r.Expired(c.now); got != c.expired {
			t.Errorf("%s: Expired(%d) = %v, want %v", c.name, c.now, got, c.expired)
		}
		if got := c.r.Live(c.now); got != c.live {
			t.Errorf("%s: Live(%d) = %v, want %v", c.name, c.now, got, c.live)
		}
	}

	if !tomb.IsTombstone() || !buriedTomb.IsTombstone() || val.IsTombstone() || exp.IsTombstone() {
		t.Error("IsTombstone wrong")
	}

	for _, c := range []struct {
		name string
		r    Record
		want int64
	}{
		{"value without expiry never dies", val, 0},
		{"value dies at its expiry", exp, 200},
		{"tombstone dies at its event time", tomb, 100},
		{"tombstone with expiry is kept until the expiry", buriedTomb, 200},
	} {
		if got := c.r.DeadSince(); got != c.want {
			t.Errorf("%s: DeadSince() = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestBuried(t *testing.T) {
	r := Record{Version: Version{Time: 100, DC: "a", Node: "n"}, Kind: KindValue, Value: []byte("secret"), ExpiresAt: 200}
	b := r.Buried()
	want := Record{Version: r.Version, Kind: KindTombstone, ExpiresAt: 200}
	requireSame(t, want, b, "Buried")
	if b.Value != nil {
		t.Fatalf("buried record keeps a value %q", b.Value)
	}
	if err := b.Validate(); err != nil {
		t.Fatalf("buried record invalid: %v", err)
	}
	if b.DeadSince() != r.DeadSince() {
		t.Fatalf("buried DeadSince %d != original %d", b.DeadSince(), r.DeadSince())
	}
	// The tombstone replaces the expired value in place: it must win over it
	// (so compaction never goes backwards) and beat anything older.
	if !Wins(b, r) {
		t.Fatal("buried tombstone does not win over the value it replaces")
	}
	older := Record{Version: Version{Time: 99, DC: "z", Node: "z"}, Kind: KindValue, Value: []byte("old")}
	if !Wins(b, older) || Wins(older, b) {
		t.Fatal("older write beats the buried tombstone: it would resurrect the key")
	}
	// Burying twice is the same tombstone.
	requireSame(t, b, b.Buried(), "Buried twice")
	// r itself is unchanged.
	if string(r.Value) != "secret" || r.Kind != KindValue {
		t.Fatal("Buried mutated its receiver")
	}
}

func TestCompareTable(t *testing.T) {
	v := Version{Time: 10, DC: "a", Node: "n"}
	cases := []struct {
		name string
		a, b Record
		want int
	}{
		{"identical", Record{Version: v, Kind: KindValue, Value: []byte("x")}, Record{Version: v, Kind: KindValue, Value: []byte("x")}, 0},
		{"nil and empty value are equal", Record{Version: v, Kind: KindValue}, Record{Version: v, Kind: KindValue, Value: []byte{}}, 0},
		{"version decides before kind",
			Record{Version: Version{11, "a", "n"}, Kind: KindValue},
			Record{Version: v, Kind: KindTombstone}, 1},
		{"version decides before expiry",
			Record{Version: Version{11, "a", "n"}, Kind: KindValue},
			Record{Version: v, Kind: KindValue, ExpiresAt: math.MaxInt64}, 1},
		{"version decides before value",
			Record{Version: Version{10, "a", "o"}, Kind: KindValue, Value: []byte{0}},
			Record{Version: v, Kind: KindValue, Value: []byte{0xff}}, 1},
		{"tombstone above value on equal version",
			Record{Version: v, Kind: KindTombstone},
			Record{Version: v, Kind: KindValue, Value: []byte("zzz"), ExpiresAt: math.MaxInt64}, 1},
		{"kind decides before expiry",
			Record{Version: v, Kind: KindTombstone, ExpiresAt: 11},
			Record{Version: v, Kind: KindValue, ExpiresAt: 1000}, 1},
		{"no expiry below an expiry",
			Record{Version: v, Kind: KindValue, Value: []byte("z")},
			Record{Version: v, Kind: KindValue, Value: []byte("a"), ExpiresAt: 11}, -1},
		{"later expiry above",
			Record{Version: v, Kind: KindValue, ExpiresAt: 12},
			Record{Version: v, Kind: KindValue, ExpiresAt: 11}, 1},
		{"value bytes last",
			Record{Version: v, Kind: KindValue, Value: []byte("b")},
			Record{Version: v, Kind: KindValue, Value: []byte("ab")}, 1},
		{"value prefix below",
			Record{Version: v, Kind: KindValue, Value: []byte("a")},
			Record{Version: v, Kind: KindValue, Value: []byte("ab")}, -1},
		{"value bytes unsigned",
			Record{Version: v, Kind: KindValue, Value: []byte{0x80}},
			Record{Version: v, Kind: KindValue, Value: []byte{0x7f}}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Compare(c.a, c.b); got != c.want {
				t.Fatalf("Compare(%s, %s) = %d, want %d", fmtRecord(c.a), fmtRecord(c.b), got, c.want)
			}
			if got := Compare(c.b, c.a); got != -c.want {
				t.Fatalf("Compare(%s, %s) = %d, want %d", fmtRecord(c.b), fmtRecord(c.a), got, -c.want)
			}
			if got := Wins(c.a, c.b); got != (c.want > 0) {
				t.Fatalf("Wins(a, b) = %v, want %v", got, c.want > 0)
			}
			if got := Wins(c.b, c.a); got != (c.want < 0) {
				t.Fatalf("Wins(b, a) = %v, want %v", got, c.want < 0)
			}
		})
	}
}

func TestWinsIsStrict(t *testing.T) {
	r := Record{Version: Version{Time: 10, DC: "a", Node: "n"}, Kind: KindValue, Value: []byte("x"), ExpiresAt: 20}
	if Wins(r, r) {
		t.Fatal("a record wins against itself")
	}
	cp := r
	cp.Value = []byte("x") // distinct backing array, same content
	if Wins(cp, r) || Wins(r, cp) {
		t.Fatal("an equal record (a replayed write) wins")
	}
	tomb := Record{Version: r.Version, Kind: KindTombstone}
	if Wins(tomb, tomb) {
		t.Fatal("a tombstone wins against itself")
	}
	empty1 := Record{Version: r.Version, Kind: KindValue}
	empty2 := Record{Version: r.Version, Kind: KindValue, Value: []byte{}}
	if Wins(empty1, empty2) || Wins(empty2, empty1) {
		t.Fatal("nil and empty value records win against each other")
	}
}

func TestLateOlderWriteDoesNotResurrect(t *testing.T) {
	// doc.go: an expired value still takes part in ordering; a late, older
	// write must not replace it or its tombstone.
	expired := Record{Version: Version{Time: 100, DC: "a", Node: "n"}, Kind: KindValue, Value: []byte("new"), ExpiresAt: 150}
	late := Record{Version: Version{Time: 90, DC: "z", Node: "z"}, Kind: KindValue, Value: []byte("old")}
	if Wins(late, expired) {
		t.Fatal("late older write beats an expired newer value")
	}
	requireSame(t, expired, Merge(late, expired), "Merge(late, expired)")
	requireSame(t, expired.Buried(), Merge(late, expired.Buried()), "Merge(late, buried)")
	if Merge(late, expired).Live(200) {
		t.Fatal("key visible again after a late write")
	}
	// Same event time, different origins: the origin decides, on every
	// replica, whatever the arrival order.
	x := Record{Version: Version{Time: 100, DC: "dc-a", Node: "n9"}, Kind: KindValue, Value: []byte("x")}
	y := Record{Version: Version{Time: 100, DC: "dc-b", Node: "n1"}, Kind: KindValue, Value: []byte("y")}
	requireSame(t, y, Merge(x, y), "Merge(x, y)")
	requireSame(t, y, Merge(y, x), "Merge(y, x)")
}
