package lww

import (
	"math"
	"strings"
	"testing"
)

func TestVersionCompareTable(t *testing.T) {
	cases := []struct {
		name string
		a, b Version
		want int
	}{
		{"equal", Version{5, "a", "n"}, Version{5, "a", "n"}, 0},
		{"time first", Version{4, "z", "z"}, Version{5, "a", "a"}, -1},
		{"time beats dc and node", Version{6, "a", "a"}, Version{5, "z", "z"}, 1},
		{"negative time", Version{-1, "a", "n"}, Version{0, "a", "n"}, -1},
		{"extreme times", Version{math.MinInt64, "z", "z"}, Version{math.MaxInt64, "a", "a"}, -1},
		{"dc before node", Version{5, "a", "z"}, Version{5, "b", "a"}, -1},
		{"dc bytewise upper before lower", Version{5, "Z", "n"}, Version{5, "a", "n"}, -1},
		{"dc bytewise digit before letter", Version{5, "9", "n"}, Version{5, "A", "n"}, -1},
		{"dc bytewise '-' before digits", Version{5, "-", "n"}, Version{5, "0", "n"}, -1},
		{"dc bytewise '_' between upper and lower", Version{5, "Z", "n"}, Version{5, "_", "n"}, -1},
		{"dc prefix orders first", Version{5, "dc", "n"}, Version{5, "dc1", "n"}, -1},
		{"dc is not numeric", Version{5, "dc10", "n"}, Version{5, "dc9", "n"}, -1},
		{"node decides on equal dc", Version{5, "a", "n2"}, Version{5, "a", "n1"}, 1},
		{"node bytewise upper before lower", Version{5, "a", "N"}, Version{5, "a", "n"}, -1},
		{"node prefix", Version{5, "a", "n"}, Version{5, "a", "nn"}, -1},
		{"zero version below everything", Version{}, Version{1, "a", "a"}, -1},
		{"empty dc below any dc", Version{5, "", "z"}, Version{5, "-", "a"}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.a.Compare(c.b); got != c.want {
				t.Fatalf("%v.Compare(%v) = %d, want %d", c.a, c.b, got, c.want)
			}
			if got := c.b.Compare(c.a); got != -c.want {
				t.Fatalf("%v.Compare(%v) = %d, want %d", c.b, c.a, got, -c.want)
			}
			if got := c.a.Less(c.b); got != (c.want < 0) {
				t.Fatalf("%v.Less(%v) = %v", c.a, c.b, got)
			}
			if got := c.b.Less(c.a); got != (c.want > 0) {
				t.Fatalf("%v.Less(%v) = %v", c.b, c.a, got)
			}
		})
	}
}

func genVersionForOrder() gen[Version] {
	return oneOf(
		genCollidingVersion(),
		custom(func(t *propT) Version {
			return Version{
				Time: genInt64().Draw(t, "time"),
				DC:   genString(4).Draw(t, "dc"),
				Node: genString(4).Draw(t, "node"),
			}
		}),
	)
}

func refVersionCompare(a, b Version) int {
	return refCompare(Record{Version: a}, Record{Version: b})
}

func TestVersionCompareProperties(t *testing.T) {
	check(t, func(t *propT) {
		g := genVersionForOrder()
		a, b, c := g.Draw(t, "a"), g.Draw(t, "b"), g.Draw(t, "c")

		ab, ba := a.Compare(b), b.Compare(a)
		if ab < -1 || ab > 1 {
			t.Fatalf("Compare returned %d, want -1, 0 or 1", ab)
		}
		if ab != -ba {
			t.Fatalf("antisymmetry: a.Compare(b)=%d, b.Compare(a)=%d for %v %v", ab, ba, a, b)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("Compare(%v, %v)=%d but equality is %v", a, b, ab, a == b)
		}
		if a.Compare(a) != 0 {
			t.Fatalf("reflexivity: %v.Compare(self) != 0", a)
		}
		if want := refVersionCompare(a, b); ab != want {
			t.Fatalf("%v.Compare(%v) = %d, reference order says %d", a, b, ab, want)
		}
		bc, ac := b.Compare(c), a.Compare(c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("transitivity: %v <= %v <= %v but a > c", a, b, c)
		}
		if ab < 0 && bc < 0 && ac >= 0 {
			t.Fatalf("strict transitivity: %v < %v < %v but a >= c", a, b, c)
		}
		if ab == 0 && bc != ac {
			t.Fatalf("equal versions order differently against %v", c)
		}
	})
}

func TestVersionIsZeroAndString(t *testing.T) {
	if !(Version{}).IsZero() {
		t.Fatal("zero Version is not IsZero")
	}
	for _, v := range []Version{{Time: 1}, {DC: "a"}, {Node: "n"}, {Time: -1}} {
		if v.IsZero() {
			t.Fatalf("%#v reported IsZero", v)
		}
	}
	if got, want := (Version{Time: 42, DC: "dc-1", Node: "n_2"}).String(), "42@dc-1/n_2"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestValidName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"Z", true},
		{"0", true},
		{"-", true},
		{"_", true},
		{"dc-1", true},
		{"us_east_1", true},
		{"Node-42_b", true},
		{nameAlphabet[:MaxNameLen], true},
		{strings.Repeat("x", MaxNameLen), true},

		{"", false},
		{strings.Repeat("x", MaxNameLen+1), false},
		{strings.Repeat("x", 1000), false},
		{"dc.1", false},
		{".", false},
		{"a.b.c", false},
		{"*", false},
		{"dc*", false},
		{">", false},
		{"dc>", false},
		{" ", false},
		{"dc 1", false},
		{" dc", false},
		{"dc ", false},
		{"\tdc", false},
		{"dc\n", false},
		{"$SYS", false},
		{"dc$", false},
		{"dc/1", false},
		{"dc\\1", false},
		{"..", false},
		{"dc:1", false},
		{"dc@1", false},
		{"dc+1", false},
		{"dc\x00", false},
		{"\x7f", false},
		{"dé", false},
		{"日本", false},
		{"ÿ", false},
		{"\xff", false},
		// 32 two-byte runes: 64 bytes, but not ASCII.
		{strings.Repeat("é", 32), false},
		// 64 characters of which one is multi-byte: 65 bytes.
		{strings.Repeat("x", 63) + "é", false},
	}
	for _, c := range cases {
		if got := ValidName(c.name); got != c.ok {
			t.Errorf("ValidName(%q) (len %d) = %v, want %v", c.name, len(c.name), got, c.ok)
		}
	}
}

func TestValidNameProperty(t *testing.T) {
	ref := func(s string) bool {
		if len(s) < 1 || len(s) > 64 {
			return false
		}
		for _, c := range []byte(s) {
			if !strings.ContainsRune(nameAlphabet, rune(c)) {
				return false
			}
		}
		return true
	}
	check(t, func(t *propT) {
		s := oneOf(
			genValidName(),
			genString(70),
			custom(func(t *propT) string {
				return string(sliceOfN(genByte(), 0, 70).Draw(t, "raw"))
			}),
			custom(func(t *propT) string {
				// A valid name with one byte replaced by an arbitrary byte.
				b := []byte(genValidName().Draw(t, "base"))
				b[genIntRange(0, len(b)-1).Draw(t, "at")] = genByte().Draw(t, "b")
				return string(b)
			}),
		).Draw(t, "s")
		if got, want := ValidName(s), ref(s); got != want {
			t.Fatalf("ValidName(%q) = %v, want %v", s, got, want)
		}
	})
}
