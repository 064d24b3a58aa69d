package lww

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// seedRecords are valid records used to seed the decoder fuzzers.
func seedRecords() []Record {
	long := strings.Repeat("z", MaxNameLen)
	return []Record{
		{Version: Version{Time: 1, DC: "a", Node: "b"}, Kind: KindTombstone},
		{Version: Version{Time: 300, DC: "a", Node: "B"}, Kind: KindTombstone, ExpiresAt: 1000},
		{Version: Version{Time: 127, DC: "x", Node: "y"}, Kind: KindValue, Value: []byte{}},
		{Version: Version{Time: 1_700_000_000_123_456_789, DC: "dc-1", Node: "n_2"}, Kind: KindValue, Value: []byte("hi"), ExpiresAt: 1_700_000_060_123_456_789},
		{Version: Version{Time: math.MaxInt64 - 1, DC: long, Node: long}, Kind: KindValue, Value: bytes.Repeat([]byte{0xab}, 40), ExpiresAt: math.MaxInt64},
		{Version: Version{Time: math.MaxInt64, DC: "_", Node: "-"}, Kind: KindValue, Value: []byte{0}},
	}
}

// checkDecodedRecord is the invariant for anything DecodeRecord accepts: it
// is valid, re-encodes, the re-encoding decodes to the same record and is a
// fixed point, and it is byte-identical to the input: the decoder accepts
// only canonical (shortest) uvarints, so every record has one encoding.
func checkDecodedRecord(t *testing.T, in []byte, r Record) []byte {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatalf("decoded an invalid record %s: %v", fmtRecord(r), err)
	}
	enc, err := AppendRecord(nil, r)
	if err != nil {
		t.Fatalf("decoded record does not re-encode: %v", err)
	}
	if len(enc) != EncodedRecordSize(r) {
		t.Fatalf("EncodedRecordSize %d, encoded %d", EncodedRecordSize(r), len(enc))
	}
	if !bytes.Equal(enc, in) {
		t.Fatalf("re-encoding differs from the accepted input:\n in  % x\n out % x", in, enc)
	}
	r2, err := DecodeRecord(enc)
	if err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	if !sameRecord(r, r2) {
		t.Fatalf("decode(encode(r)) = %s, want %s", fmtRecord(r2), fmtRecord(r))
	}
	enc2, err := AppendRecord(nil, r2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding is not a fixed point: %v", err)
	}
	return enc
}

func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	corrupt, unknown := errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnknownFormat)
	if corrupt == unknown {
		t.Fatalf("decode error %q must wrap exactly one of ErrCorrupt and ErrUnknownFormat", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range seedRecords() {
		b, err := AppendRecord(nil, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		bad := append([]byte(nil), b...)
		bad[1] |= 0x08
		f.Add(bad)
	}
	f.Add([]byte{})
	f.Add([]byte{FormatRecordV1})
	f.Add([]byte{FormatChangeV1})
	f.Add([]byte{0x01, 0x02, 0x81, 0x00, 0x01, 'a', 0x01, 'b'})                           // padded varint
	f.Add([]byte{0x01, 0x05, 0x0a, 0x01, 'a', 0x01, 'b', 0x00})                           // expiry 0
	f.Add([]byte{0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}) // time 2^64-1
	f.Add([]byte{0x01, 0x03, 0x0a, 0x01, 'a', 0x01, 'b'})                                 // kind 3

	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(nil), data...)
		r, err := DecodeRecord(data)
		if !bytes.Equal(in, data) {
			t.Fatal("DecodeRecord modified its input")
		}
		if err != nil {
			checkDecodeError(t, err)
			if !sameRecord(r, Record{}) {
				t.Fatalf("error with a non-zero record %s", fmtRecord(r))
			}
			return
		}
		checkDecodedRecord(t, data, r)
		// The value is everything after the header.
		if !bytes.Equal(r.Value, data[len(data)-len(r.Value):]) {
			t.Fatal("value is not the tail of the input")
		}
	})
}

func FuzzDecodeChange(f *testing.F) {
	for i, r := range seedRecords() {
		key := [][]byte{[]byte("k"), []byte("user:42"), bytes.Repeat([]byte{0xff}, 200), {0}}[i%4]
		b, err := AppendChange(nil, Change{Key: key, Record: r})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(b[:1+1+len(key)])
	}
	f.Add([]byte{})
	f.Add([]byte{FormatChangeV1})
	f.Add([]byte{FormatChangeV1, 0x00, FormatRecordV1})
	f.Add([]byte{FormatChangeV1, 0x01, 'k', 0x02})
	f.Add([]byte{FormatChangeV1, 0xff, 0xff, 0xff, 0xff, 0x0f})

	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(nil), data...)
		c, err := DecodeChange(data)
		if !bytes.Equal(in, data) {
			t.Fatal("DecodeChange modified its input")
		}
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if len(c.Key) == 0 {
			t.Fatal("decoded a change with an empty key")
		}
		enc, err := AppendChange(nil, c)
		if err != nil {
			t.Fatalf("decoded change does not re-encode: %v", err)
		}
		if len(enc) > len(data) || (len(enc) == len(data) && !bytes.Equal(enc, data)) {
			t.Fatalf("re-encoding not canonical:\n in  % x\n out % x", data, enc)
		}
		c2, err := DecodeChange(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !bytes.Equal(c.Key, c2.Key) || !sameRecord(c.Record, c2.Record) {
			t.Fatal("decode(encode(c)) != c")
		}
		if enc2, _ := AppendChange(nil, c2); !bytes.Equal(enc, enc2) {
			t.Fatal("re-encoding is not a fixed point")
		}
		// The record part stands alone as a record encoding.
		rec := enc[len(enc)-EncodedRecordSize(c.Record):]
		r, err := DecodeRecord(rec)
		if err != nil || !sameRecord(r, c.Record) {
			t.Fatalf("embedded record does not decode on its own: %v", err)
		}
	})
}

var (
	fuzzDCs   = []string{"a", "b", "dc-1"}
	fuzzNodes = []string{"n", "n1", "N"}
)

// fuzzRecord builds a record from fuzz inputs. Times are base plus a small
// offset so the fuzzer meets equal times and equal versions often; origin
// picks DC and node from small sets and the kind; x picks the expiry and the
// value (one of two shared fuzz values, so equal versions with different or
// identical content both occur).
func fuzzRecord(base int64, d, origin, x uint8, v1, v2 []byte) Record {
	r := Record{Version: Version{
		Time: base + int64(d%3),
		DC:   fuzzDCs[int(origin)%3],
		Node: fuzzNodes[int(origin/3)%3],
	}}
	if origin&0x80 != 0 {
		r.Kind = KindTombstone
	} else {
		r.Kind = KindValue
		switch (x >> 4) % 3 {
		case 0:
			r.Value = v1
		case 1:
			r.Value = v2
		}
	}
	if e := x & 0x0f; e != 0 {
		r.ExpiresAt = r.Version.Time + int64(e%4)
	}
	return r
}

func FuzzMerge(f *testing.F) {
	f.Add(int64(100), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), []byte("x"), []byte("y"))
	f.Add(int64(100), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0x80), uint8(1), uint8(0x10), uint8(0), uint8(0x01), []byte("x"), []byte("x"))
	f.Add(int64(100), uint8(1), uint8(2), uint8(0), uint8(4), uint8(4), uint8(0x84), uint8(0x12), uint8(0x23), uint8(0x01), []byte{}, []byte(nil))
	f.Add(int64(1), uint8(0), uint8(1), uint8(2), uint8(8), uint8(7), uint8(6), uint8(0x0f), uint8(0x1f), uint8(0x2f), []byte("a"), []byte("ab"))
	f.Add(int64(math.MaxInt64-2), uint8(2), uint8(1), uint8(0), uint8(0x80), uint8(0x81), uint8(0x82), uint8(1), uint8(2), uint8(3), []byte{0xff}, []byte{0})
	f.Add(int64(-5), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0), uint8(0x10), uint8(0x20), uint8(0), []byte("v"), []byte("w"))

	f.Fuzz(func(t *testing.T, base int64, d1, d2, d3, o1, o2, o3, x1, x2, x3 uint8, v1, v2 []byte) {
		a := fuzzRecord(base, d1, o1, x1, v1, v2)
		b := fuzzRecord(base, d2, o2, x2, v1, v2)
		c := fuzzRecord(base, d3, o3, x3, v1, v2)

		// Idempotence.
		for _, r := range []Record{a, b, c} {
			if !sameRecord(Merge(r, r), r) {
				t.Fatalf("Merge(r, r) != r for %s", fmtRecord(r))
			}
			if Wins(r, r) {
				t.Fatalf("%s wins against itself", fmtRecord(r))
			}
		}
		// Commutativity, and agreement with the reference order and Wins.
		for _, p := range [][2]Record{{a, b}, {a, c}, {b, c}} {
			x, y := p[0], p[1]
			xy, yx := Merge(x, y), Merge(y, x)
			if !sameRecord(xy, yx) {
				t.Fatalf("Merge not commutative:\n x %s\n y %s\n x+y %s\n y+x %s", fmtRecord(x), fmtRecord(y), fmtRecord(xy), fmtRecord(yx))
			}
			if !isOneOf(xy, x, y) {
				t.Fatal("Merge invented a record")
			}
			if Compare(x, y) != refCompare(x, y) {
				t.Fatalf("Compare(%s, %s) = %d, reference %d", fmtRecord(x), fmtRecord(y), Compare(x, y), refCompare(x, y))
			}
			if Wins(x, y) && Wins(y, x) {
				t.Fatal("both records win")
			}
			if Wins(x, y) != (refCompare(x, y) > 0) {
				t.Fatal("Wins disagrees with the order")
			}
			if !sameRecord(Merge(xy, x), xy) || !sameRecord(Merge(xy, y), xy) {
				t.Fatal("merging an input again changed the result")
			}
		}
		// Associativity, and every order of the three gives the same result.
		want := Merge(Merge(a, b), c)
		if got := Merge(a, Merge(b, c)); !sameRecord(got, want) {
			t.Fatalf("Merge not associative: (a+b)+c = %s, a+(b+c) = %s", fmtRecord(want), fmtRecord(got))
		}
		for _, p := range [][3]Record{{a, c, b}, {b, a, c}, {b, c, a}, {c, a, b}, {c, b, a}} {
			if got := Merge(Merge(p[0], p[1]), p[2]); !sameRecord(got, want) {
				t.Fatalf("order changes the result: %s vs %s", fmtRecord(got), fmtRecord(want))
			}
		}
		for _, r := range []Record{a, b, c} {
			if refCompare(r, want) > 0 {
				t.Fatalf("result %s is below input %s", fmtRecord(want), fmtRecord(r))
			}
		}
	})
}

// FuzzPeekRecord checks that PeekRecord agrees with DecodeRecord on every
// input: same acceptance, same kind, times and value.
func FuzzPeekRecord(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 0x01, 0x01, 'a', 0x01, 'b', 'v'})
	f.Add([]byte{0x01, 0x06, 0x01, 0x01, 'a', 0x01, 'b', 0x05})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, derr := DecodeRecord(in)
		h, v, perr := PeekRecord(in)
		if (derr == nil) != (perr == nil) {
			t.Fatalf("DecodeRecord err %v, PeekRecord err %v", derr, perr)
		}
		if derr != nil {
			return
		}
		if h.Kind != r.Kind || h.Time != r.Version.Time || h.ExpiresAt != r.ExpiresAt || !bytes.Equal(v, r.Value) {
			t.Fatalf("PeekRecord %+v %q, DecodeRecord %+v", h, v, r)
		}
		if h.Live(r.Version.Time) != r.Live(r.Version.Time) {
			t.Fatal("Live differs")
		}
	})
}
