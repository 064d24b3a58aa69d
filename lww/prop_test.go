package lww

// A small property-testing harness on math/rand/v2. pgregory.net/rapid is not
// a requirement of the module's go.mod (and go.mod is not ours to edit), so
// the property tests use this instead. Generators are biased towards boundary
// values; a failure reports the seed and every value drawn, and setting
// LWW_PROP_SEED=<seed> replays it. LWW_PROP_N sets the number of cases.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// propT is the per-case handle: a source of randomness and a log of draws.
type propT struct {
	tt    *testing.T
	r     *rand.Rand
	seed  uint64
	draws []string
	depth int
}

func (t *propT) Helper() { t.tt.Helper() }

func (t *propT) Fatalf(format string, args ...any) {
	t.tt.Helper()
	t.tt.Fatalf("property failed (replay with LWW_PROP_SEED=%d)\ndraws:\n  %s\n%s",
		t.seed, strings.Join(t.draws, "\n  "), fmt.Sprintf(format, args...))
}

func (t *propT) Fatal(args ...any) { t.tt.Helper(); t.Fatalf("%s", fmt.Sprint(args...)) }

// check runs prop on many random cases.
func check(t *testing.T, prop func(*propT)) {
	t.Helper()
	n := 400
	if testing.Short() {
		n = 50
	}
	if s := os.Getenv("LWW_PROP_N"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	if s := os.Getenv("LWW_PROP_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("bad LWW_PROP_SEED %q", s)
		}
		runCase(t, seed, prop)
		return
	}
	base := rand.Uint64()
	for i := 0; i < n; i++ {
		runCase(t, base+uint64(i), prop)
		if t.Failed() {
			return
		}
	}
}

func runCase(t *testing.T, seed uint64, prop func(*propT)) {
	t.Helper()
	pt := &propT{tt: t, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed: seed}
	prop(pt)
}

// gen is a generator of V.
type gen[V any] struct{ f func(*propT) V }

// Draw draws a value and records it (top-level draws only) for the failure
// report.
func (g gen[V]) Draw(t *propT, label string) V {
	t.depth++
	v := g.f(t)
	t.depth--
	if t.depth == 0 && len(t.draws) < 200 {
		t.draws = append(t.draws, fmt.Sprintf("%s = %s", label, fmtDraw(v)))
	}
	return v
}

func fmtDraw(v any) string {
	switch x := v.(type) {
	case Record:
		return fmtRecord(x)
	case []Record:
		s := make([]string, len(x))
		for i, r := range x {
			s[i] = fmtRecord(r)
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	return fmt.Sprintf("%#v", v)
}

func custom[V any](f func(*propT) V) gen[V] { return gen[V]{f} }

// genInt64Range draws from [lo, hi], hitting the ends and their neighbours
// often.
func genInt64Range(lo, hi int64) gen[int64] {
	if lo > hi {
		panic("genInt64Range: empty range")
	}
	return gen[int64]{func(t *propT) int64 {
		if t.r.IntN(5) == 0 {
			edges := []int64{lo, hi, lo + 1, hi - 1}
			if e := edges[t.r.IntN(len(edges))]; e >= lo && e <= hi {
				return e
			}
		}
		span := uint64(hi) - uint64(lo) // exact as unsigned
		if span == math.MaxUint64 {
			return int64(t.r.Uint64())
		}
		return int64(uint64(lo) + t.r.Uint64N(span+1))
	}}
}

func genInt64() gen[int64] { return genInt64Range(math.MinInt64, math.MaxInt64) }

func genIntRange(lo, hi int) gen[int] {
	g := genInt64Range(int64(lo), int64(hi))
	return gen[int]{func(t *propT) int { return int(g.f(t)) }}
}

func genByte() gen[byte] {
	return gen[byte]{func(t *propT) byte { return byte(t.r.UintN(256)) }}
}

func genBool() gen[bool] { return gen[bool]{func(t *propT) bool { return t.r.IntN(2) == 0 }} }

func sampledFrom[V any](vs []V) gen[V] {
	return gen[V]{func(t *propT) V { return vs[t.r.IntN(len(vs))] }}
}

func oneOf[V any](gs ...gen[V]) gen[V] {
	return gen[V]{func(t *propT) V { return gs[t.r.IntN(len(gs))].f(t) }}
}

func sliceOfN[V any](g gen[V], lo, hi int) gen[[]V] {
	return gen[[]V]{func(t *propT) []V {
		n := lo + t.r.IntN(hi-lo+1)
		s := make([]V, n)
		for i := range s {
			s[i] = g.f(t)
		}
		return s
	}}
}

// genString draws strings of 0..maxRunes runes, mixing ASCII, the name
// alphabet's neighbours and multi-byte runes.
func genString(maxRunes int) gen[string] {
	runes := []rune("aZ09-_. *>$/\\\x00\x7féœ日\U0001F600")
	return gen[string]{func(t *propT) string {
		n := t.r.IntN(maxRunes + 1)
		var b strings.Builder
		for i := 0; i < n; i++ {
			if t.r.IntN(2) == 0 {
				b.WriteRune(runes[t.r.IntN(len(runes))])
			} else {
				b.WriteByte(nameAlphabet[t.r.IntN(len(nameAlphabet))])
			}
		}
		return b.String()
	}}
}

func permutation[V any](t *propT, vs []V) []V {
	out := append([]V(nil), vs...)
	t.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestHarnessSelfCheck makes sure the harness actually explores: edges are
// hit and ranges are respected.
func TestHarnessSelfCheck(t *testing.T) {
	sawLo, sawHi := false, false
	check(t, func(t *propT) {
		v := genInt64Range(-3, 7).Draw(t, "v")
		if v < -3 || v > 7 {
			t.Fatalf("out of range: %d", v)
		}
		sawLo = sawLo || v == -3
		sawHi = sawHi || v == 7
		w := genInt64().Draw(t, "w")
		_ = w
		u := genInt64Range(math.MaxInt64-2, math.MaxInt64).Draw(t, "u")
		if u < math.MaxInt64-2 {
			t.Fatalf("out of range: %d", u)
		}
	})
	if !sawLo || !sawHi {
		t.Fatal("harness never drew the range ends")
	}
}
