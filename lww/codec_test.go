package lww

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// headerLen is the length of r's encoding without its value: where the value
// starts.
func headerLen(r Record) int { return EncodedRecordSize(r) - len(r.Value) }

func mustEncode(t tb, r Record) []byte {
	t.Helper()
	b, err := AppendRecord(nil, r)
	if err != nil {
		t.Fatalf("AppendRecord(%s): %v", fmtRecord(r), err)
	}
	return b
}

func mustEncodeChange(t tb, c Change) []byte {
	t.Helper()
	b, err := AppendChange(nil, c)
	if err != nil {
		t.Fatalf("AppendChange(%q, %s): %v", c.Key, fmtRecord(c.Record), err)
	}
	return b
}

// requireDecodeErr checks that err is a decode error of the right class, and
// not the other one.
func requireDecodeErr(t tb, err, want error) {
	t.Helper()
	requireOnly(t, err, want)
}

func TestRecordRoundTrip(t *testing.T) {
	check(t, func(t *propT) {
		r := genAnyRecord().Draw(t, "record")
		prefix := sliceOfN(genByte(), 0, 8).Draw(t, "prefix")
		dst := append([]byte(nil), prefix...)

		out, err := AppendRecord(dst, r)
		if err != nil {
			t.Fatalf("AppendRecord: %v", err)
		}
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatal("AppendRecord changed the bytes already in dst")
		}
		enc := out[len(prefix):]
		if got, want := len(enc), EncodedRecordSize(r); got != want {
			t.Fatalf("appended %d bytes, EncodedRecordSize says %d", got, want)
		}
		if over := len(enc) - len(r.Value); over > MaxRecordOverhead || over < 0 {
			t.Fatalf("overhead %d exceeds MaxRecordOverhead %d", over, MaxRecordOverhead)
		}
		if enc[0] != FormatRecordV1 {
			t.Fatalf("format byte 0x%02x", enc[0])
		}

		dec, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("DecodeRecord: %v", err)
		}
		requireSame(t, r, dec, "round trip")
		switch dec.Kind {
		case KindTombstone:
			if dec.Value != nil {
				t.Fatalf("decoded tombstone has non-nil value %q", dec.Value)
			}
		case KindValue:
			if dec.Value == nil {
				t.Fatal("decoded value record has nil Value; want empty non-nil")
			}
		}
		// Re-encoding is byte-identical: the encoding is a function of the
		// record alone.
		if again := mustEncode(t, dec); !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, again)
		}
	})
}

func TestChangeRoundTrip(t *testing.T) {
	check(t, func(t *propT) {
		c := Change{
			Key:    sliceOfN(genByte(), 1, 200).Draw(t, "key"),
			Record: genAnyRecord().Draw(t, "record"),
		}
		prefix := sliceOfN(genByte(), 0, 8).Draw(t, "prefix")
		out, err := AppendChange(append([]byte(nil), prefix...), c)
		if err != nil {
			t.Fatalf("AppendChange: %v", err)
		}
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatal("AppendChange changed the bytes already in dst")
		}
		enc := out[len(prefix):]
		// Layout: format, uvarint key length, key, record encoding.
		klen := binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(len(c.Key)))
		if want := 1 + klen + len(c.Key) + EncodedRecordSize(c.Record); len(enc) != want {
			t.Fatalf("change encoding %d bytes, want %d", len(enc), want)
		}
		if enc[0] != FormatChangeV1 {
			t.Fatalf("format byte 0x%02x", enc[0])
		}
		if !bytes.Equal(enc[1+klen+len(c.Key):], mustEncode(t, c.Record)) {
			t.Fatal("change does not embed the record encoding verbatim")
		}
		dec, err := DecodeChange(enc)
		if err != nil {
			t.Fatalf("DecodeChange: %v", err)
		}
		if !bytes.Equal(dec.Key, c.Key) {
			t.Fatalf("key %q, want %q", dec.Key, c.Key)
		}
		requireSame(t, c.Record, dec.Record, "change record")
		if again := mustEncodeChange(t, dec); !bytes.Equal(again, enc) {
			t.Fatal("re-encoding the change differs")
		}
	})
}

func TestEncodedRecordSizeAndOverheadBound(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen)
	worst := Record{
		Version:   Version{Time: math.MaxInt64 - 1, DC: long, Node: long},
		Kind:      KindValue,
		ExpiresAt: math.MaxInt64,
		Value:     []byte("v"),
	}
	b := mustEncode(t, worst)
	if len(b) != EncodedRecordSize(worst) {
		t.Fatalf("size %d, EncodedRecordSize %d", len(b), EncodedRecordSize(worst))
	}
	// 2 header bytes, two 9-byte uvarints, two 1+64-byte names.
	if got, want := len(b)-len(worst.Value), 2+9+9+2*(1+MaxNameLen); got != want {
		t.Fatalf("worst-case overhead %d, want %d", got, want)
	}
	if len(b)-len(worst.Value) > MaxRecordOverhead {
		t.Fatalf("worst-case overhead %d > MaxRecordOverhead %d", len(b)-len(worst.Value), MaxRecordOverhead)
	}
	smallest := Record{Version: Version{Time: 1, DC: "a", Node: "b"}, Kind: KindTombstone}
	if n := EncodedRecordSize(smallest); n != 7 || len(mustEncode(t, smallest)) != 7 {
		t.Fatalf("smallest record encodes to %d bytes, want 7", n)
	}
}

func TestEncodedRecordSizeAtVarintEdges(t *testing.T) {
	for _, tm := range varintEdges {
		for _, exp := range append([]int64{0}, varintEdges...) {
			if exp != 0 && exp <= tm {
				continue
			}
			r := Record{Version: Version{Time: tm, DC: "a", Node: "b"}, Kind: KindValue, Value: []byte("v"), ExpiresAt: exp}
			b := mustEncode(t, r)
			if len(b) != EncodedRecordSize(r) {
				t.Fatalf("time %d expiry %d: encoded %d bytes, EncodedRecordSize %d", tm, exp, len(b), EncodedRecordSize(r))
			}
			dec, err := DecodeRecord(b)
			requireNoErr(t, err)
			requireSame(t, r, dec, "varint edge round trip")
		}
	}
}

func TestAppendRecordRejectsInvalid(t *testing.T) {
	good := Record{Version: Version{Time: 10, DC: "a", Node: "b"}, Kind: KindValue, Value: []byte("v")}
	bad := []struct {
		name string
		r    Record
		want error
	}{
		{"zero record", Record{}, ErrInvalidRecord},
		{"kind 0", Record{Version: good.Version, Value: []byte("v")}, ErrInvalidRecord},
		{"kind 3", Record{Version: good.Version, Kind: 3}, ErrInvalidRecord},
		{"time 0", Record{Version: Version{DC: "a", Node: "b"}, Kind: KindValue}, ErrEventTimeNotPositive},
		{"negative time", Record{Version: Version{Time: -5, DC: "a", Node: "b"}, Kind: KindValue}, ErrEventTimeNotPositive},
		{"tombstone with value", Record{Version: good.Version, Kind: KindTombstone, Value: []byte("v")}, ErrInvalidRecord},
		{"expiry at event time", Record{Version: good.Version, Kind: KindValue, ExpiresAt: 10}, ErrInvalidRecord},
		{"negative expiry", Record{Version: good.Version, Kind: KindValue, ExpiresAt: -1}, ErrInvalidRecord},
		{"bad dc", Record{Version: Version{Time: 10, DC: "a.b", Node: "b"}, Kind: KindValue}, ErrInvalidRecord},
		{"long node", Record{Version: Version{Time: 10, DC: "a", Node: strings.Repeat("n", 65)}, Kind: KindValue}, ErrInvalidRecord},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			for _, dst := range [][]byte{nil, {}, []byte("prefix"), make([]byte, 3, 100)} {
				snapshot := append([]byte(nil), dst...)
				out, err := AppendRecord(dst, c.r)
				requireOnly(t, err, c.want)
				if len(out) != len(dst) || !bytes.Equal(out, snapshot) {
					t.Fatalf("AppendRecord appended %d bytes for an invalid record", len(out)-len(dst))
				}
				if cap(dst) >= len(dst)+2 && !bytes.Equal(dst[:cap(dst)][len(dst):len(dst)+2], []byte{0, 0}) {
					t.Fatal("AppendRecord wrote into dst's spare capacity for an invalid record")
				}
			}
		})
	}
}

func TestAppendChangeRejectsInvalid(t *testing.T) {
	good := Record{Version: Version{Time: 10, DC: "a", Node: "b"}, Kind: KindValue, Value: []byte("v")}
	cases := []struct {
		name string
		c    Change
		want error
	}{
		{"nil key", Change{Record: good}, ErrInvalidRecord},
		{"empty key", Change{Key: []byte{}, Record: good}, ErrInvalidRecord},
		{"invalid record", Change{Key: []byte("k"), Record: Record{Version: good.Version, Kind: 7}}, ErrInvalidRecord},
		{"zero time", Change{Key: []byte("k"), Record: Record{Version: Version{DC: "a", Node: "b"}, Kind: KindValue}}, ErrEventTimeNotPositive},
		{"bad node", Change{Key: []byte("k"), Record: Record{Version: Version{Time: 1, DC: "a", Node: ""}, Kind: KindValue}}, ErrInvalidRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A batch of changes built in one buffer: a rejected change
			// must leave the buffer as it was, so the entries already in it
			// still decode and nothing half-written follows them.
			first := mustEncodeChange(t, Change{Key: []byte("first"), Record: good})
			buf := append([]byte(nil), first...)
			out, err := AppendChange(buf, c.c)
			requireOnly(t, err, c.want)
			if !bytes.Equal(out, first) {
				t.Fatalf("AppendChange left %d bytes behind for a rejected change: %x", len(out)-len(first), out[len(first):])
			}
		})
	}
}

// TestDecodeRecordTruncations decodes every prefix of valid encodings. A
// prefix that cuts the header must fail with ErrCorrupt (never
// ErrUnknownFormat, never a panic). The value runs to the end of the
// encoding with no length, so a prefix that keeps the whole header is a
// valid record whose value is a prefix of the original: the format relies
// on its container (a RocksDB value, a log entry) for framing.
func TestDecodeRecordTruncations(t *testing.T) {
	check(t, func(t *propT) {
		r := genAnyRecord().Draw(t, "record")
		enc := mustEncode(t, r)
		h := headerLen(r)
		for n := 0; n < len(enc); n++ {
			prefix := append([]byte(nil), enc[:n]...) // own array: catches reads past len
			dec, err := DecodeRecord(prefix)
			if n < h {
				if err == nil {
					t.Fatalf("prefix of %d/%d bytes (header %d) decoded to %s", n, len(enc), h, fmtRecord(dec))
				}
				requireDecodeErr(t, err, ErrCorrupt)
				continue
			}
			// Cut inside the value.
			if err != nil {
				t.Fatalf("prefix keeping the header failed: %v", err)
			}
			want := r
			want.Value = r.Value[:n-h]
			requireSame(t, want, dec, "value-truncated record")
		}
	})
}

func TestDecodeChangeTruncations(t *testing.T) {
	check(t, func(t *propT) {
		c := Change{Key: sliceOfN(genByte(), 1, 150).Draw(t, "key"), Record: genAnyRecord().Draw(t, "record")}
		enc := mustEncodeChange(t, c)
		h := len(enc) - len(c.Record.Value)
		for n := 0; n < len(enc); n++ {
			prefix := append([]byte(nil), enc[:n]...)
			dec, err := DecodeChange(prefix)
			if n < h {
				if err == nil {
					t.Fatalf("prefix of %d/%d bytes (header %d) decoded to %q %s", n, len(enc), h, dec.Key, fmtRecord(dec.Record))
				}
				requireDecodeErr(t, err, ErrCorrupt)
				continue
			}
			if err != nil {
				t.Fatalf("prefix keeping the header failed: %v", err)
			}
			if !bytes.Equal(dec.Key, c.Key) {
				t.Fatal("key changed")
			}
		}
	})
}

func TestDecodeUnknownFormat(t *testing.T) {
	rec := mustEncode(t, Record{Version: Version{Time: 1, DC: "a", Node: "b"}, Kind: KindValue, Value: []byte("v")})
	ch := mustEncodeChange(t, Change{Key: []byte("k"), Record: Record{Version: Version{Time: 1, DC: "a", Node: "b"}, Kind: KindTombstone}})
	for f := 0; f < 256; f++ {
		b := append([]byte(nil), rec...)
		b[0] = byte(f)
		_, err := DecodeRecord(b)
		if byte(f) == FormatRecordV1 {
			requireNoErr(t, err)
		} else {
			requireDecodeErr(t, err, ErrUnknownFormat)
		}
		// A lone unknown format byte is still an unknown format.
		if byte(f) != FormatRecordV1 {
			_, err = DecodeRecord([]byte{byte(f)})
			requireDecodeErr(t, err, ErrUnknownFormat)
		}

		c := append([]byte(nil), ch...)
		c[0] = byte(f)
		_, err = DecodeChange(c)
		if byte(f) == FormatChangeV1 {
			requireNoErr(t, err)
		} else {
			requireDecodeErr(t, err, ErrUnknownFormat)
		}

		// The record inside a change carries its own format byte.
		c = append([]byte(nil), ch...)
		c[3] = byte(f) // 0x11, len 1, 'k', record format
		_, err = DecodeChange(c)
		if byte(f) == FormatRecordV1 {
			requireNoErr(t, err)
		} else {
			requireDecodeErr(t, err, ErrUnknownFormat)
		}
	}
	// A record is not a change and a change is not a record.
	_, err := DecodeRecord(ch)
	requireDecodeErr(t, err, ErrUnknownFormat)
	_, err = DecodeChange(rec)
	requireDecodeErr(t, err, ErrUnknownFormat)
}

func TestDecodeRecordRejectsMalformed(t *testing.T) {
	// Hand-built encodings, each broken in one way.
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	name := func(s string) []byte { return append(uv(uint64(len(s))), s...) }
	f := []byte{FormatRecordV1}
	val, tomb := []byte{0x01}, []byte{0x02}
	valExp, tombExp := []byte{0x05}, []byte{0x06}

	ok := cat(f, val, uv(10), name("a"), name("b"), []byte("v"))
	if _, err := DecodeRecord(ok); err != nil {
		t.Fatalf("control encoding rejected: %v", err)
	}

	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"format only", f},
		{"flag bit 3", cat(f, []byte{0x01 | 0x08}, uv(10), name("a"), name("b"))},
		{"flag bit 4", cat(f, []byte{0x01 | 0x10}, uv(10), name("a"), name("b"))},
		{"flag bit 5", cat(f, []byte{0x02 | 0x20}, uv(10), name("a"), name("b"))},
		{"flag bit 6", cat(f, []byte{0x01 | 0x40}, uv(10), name("a"), name("b"))},
		{"flag bit 7", cat(f, []byte{0x02 | 0x80}, uv(10), name("a"), name("b"))},
		{"all flag bits", cat(f, []byte{0xff}, uv(10), name("a"), name("b"), uv(20))},
		{"kind 0", cat(f, []byte{0x00}, uv(10), name("a"), name("b"))},
		{"kind 3", cat(f, []byte{0x03}, uv(10), name("a"), name("b"))},
		{"kind 0 with expiry", cat(f, []byte{0x04}, uv(10), name("a"), name("b"), uv(20))},
		{"time 0", cat(f, val, uv(0), name("a"), name("b"))},
		{"time 2^63", cat(f, val, uv(1<<63), name("a"), name("b"))},
		{"time max uint64", cat(f, val, uv(math.MaxUint64), name("a"), name("b"))},
		{"time varint overflow", cat(f, val, bytes.Repeat([]byte{0xff}, 10), []byte{0x01}, name("a"), name("b"))},
		{"time varint 11 bytes", cat(f, val, bytes.Repeat([]byte{0x80}, 10), []byte{0x00}, name("a"), name("b"))},
		{"time unterminated", cat(f, val, []byte{0x80, 0x80})},
		{"empty dc", cat(f, val, uv(10), name(""), name("b"))},
		{"empty node", cat(f, val, uv(10), name("a"), name(""))},
		{"dc with dot", cat(f, val, uv(10), name("a.b"), name("b"))},
		{"node with space", cat(f, val, uv(10), name("a"), name("b c"))},
		{"dc 65 bytes", cat(f, val, uv(10), name(strings.Repeat("d", 65)), name("b"))},
		{"node 65 bytes", cat(f, val, uv(10), name("a"), name(strings.Repeat("n", 65)))},
		{"dc length beyond input", cat(f, val, uv(10), uv(5), []byte("ab"))},
		{"dc length huge", cat(f, val, uv(10), uv(math.MaxUint64), []byte("ab"))},
		{"node length beyond input", cat(f, val, uv(10), name("a"), uv(3), []byte("b"))},
		{"node missing", cat(f, val, uv(10), name("a"))},
		{"expiry flag, expiry missing", cat(f, valExp, uv(10), name("a"), name("b"))},
		{"expiry flag, expiry 0", cat(f, valExp, uv(10), name("a"), name("b"), uv(0))},
		{"expiry equals time", cat(f, valExp, uv(10), name("a"), name("b"), uv(10))},
		{"expiry before time", cat(f, valExp, uv(10), name("a"), name("b"), uv(9))},
		{"expiry 2^63", cat(f, valExp, uv(10), name("a"), name("b"), uv(1<<63))},
		{"expiry unterminated", cat(f, valExp, uv(10), name("a"), name("b"), []byte{0xff})},
		{"tombstone expiry 0", cat(f, tombExp, uv(10), name("a"), name("b"), uv(0))},
		{"tombstone with value", cat(f, tomb, uv(10), name("a"), name("b"), []byte("v"))},
		{"tombstone with a zero byte", cat(f, tomb, uv(10), name("a"), name("b"), []byte{0})},
		{"tombstone with expiry and value", cat(f, tombExp, uv(10), name("a"), name("b"), uv(20), []byte("v"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := DecodeRecord(c.b)
			if err == nil {
				t.Fatalf("decoded %x to %s", c.b, fmtRecord(r))
			}
			requireDecodeErr(t, err, ErrCorrupt)
			if !sameRecord(r, Record{}) {
				t.Fatalf("error returned with a non-zero record %s", fmtRecord(r))
			}
			// The same bytes inside a change are rejected the same way.
			if len(c.b) > 0 {
				ch := cat([]byte{FormatChangeV1}, name("k"), c.b)
				_, err := DecodeChange(ch)
				requireDecodeErr(t, err, ErrCorrupt)
			}
		})
	}
}

func TestDecodeChangeRejectsMalformed(t *testing.T) {
	rec := mustEncode(t, Record{Version: Version{Time: 10, DC: "a", Node: "b"}, Kind: KindTombstone})
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"format only", []byte{FormatChangeV1}},
		{"empty key", append([]byte{FormatChangeV1, 0x00}, rec...)},
		{"key length beyond input", []byte{FormatChangeV1, 0x05, 'k'}},
		{"key length huge", append([]byte{FormatChangeV1, 0xff, 0xff, 0xff, 0xff, 0x0f}, rec...)},
		{"key length varint overflow", append(append([]byte{FormatChangeV1}, bytes.Repeat([]byte{0xff}, 10)...), 0x01)},
		{"key, no record", []byte{FormatChangeV1, 0x01, 'k'}},
		{"key, record format only", []byte{FormatChangeV1, 0x01, 'k', FormatRecordV1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, err := DecodeChange(c.b)
			if err == nil {
				t.Fatalf("decoded %x to %q %s", c.b, ch.Key, fmtRecord(ch.Record))
			}
			requireDecodeErr(t, err, ErrCorrupt)
		})
	}
}

func TestDecodeAliasesInput(t *testing.T) {
	r := Record{Version: Version{Time: 10, DC: "a", Node: "b"}, Kind: KindValue, Value: []byte("hello")}
	enc := mustEncode(t, r)
	dec, err := DecodeRecord(enc)
	requireNoErr(t, err)
	enc[len(enc)-1] = '!'
	if string(dec.Value) != "hell!" {
		t.Fatalf("documented aliasing changed: Value = %q", dec.Value)
	}
	// Names are copied into strings and do not alias.
	enc[4] = 'z' // 01 01 0a 01 'a' ...
	if dec.Version.DC != "a" {
		t.Fatal("DC aliases the input")
	}

	// The key of a change is capped at its own length: appending to it
	// must not overwrite the record that follows it in the buffer.
	cenc := mustEncodeChange(t, Change{Key: []byte("key"), Record: r})
	orig := append([]byte(nil), cenc...)
	ch, err := DecodeChange(cenc)
	requireNoErr(t, err)
	_ = append(ch.Key, "XXXXXXXX"...)
	if !bytes.Equal(cenc, orig) {
		t.Fatal("appending to a decoded key overwrote the encoding")
	}
	if _, err := DecodeChange(cenc); err != nil {
		t.Fatalf("encoding damaged: %v", err)
	}
}

// TestGoldenV1 pins FormatRecordV1 and FormatChangeV1 byte for byte. If this
// fails, the wire format changed: stored data and peers on the old format
// would be misread. Bump the format byte instead of changing v1.
func TestGoldenV1(t *testing.T) {
	if FormatRecordV1 != 0x01 || FormatChangeV1 != 0x11 {
		t.Fatalf("format bytes changed: record 0x%02x change 0x%02x", FormatRecordV1, FormatChangeV1)
	}

	golden := []struct {
		name string
		r    Record
		want []byte
	}{
		{
			name: "value with expiry",
			r: Record{
				Version:   Version{Time: 1_700_000_000_123_456_789, DC: "dc-1", Node: "n_2"},
				Kind:      KindValue,
				Value:     []byte("hi"),
				ExpiresAt: 1_700_000_060_123_456_789,
			},
			want: []byte{
				0x01,                                                 // format v1
				0x05,                                                 // flags: kind value (1) | has expiry (4)
				0x95, 0x9a, 0x97, 0xec, 0xe3, 0x9f, 0xe7, 0xcb, 0x17, // time 1700000000123456789
				0x04, 'd', 'c', '-', '1', // dc
				0x03, 'n', '_', '2', // node
				0x95, 0xca, 0xb4, 0xae, 0xc3, 0xa1, 0xe7, 0xcb, 0x17, // expiry 1700000060123456789
				'h', 'i', // value
			},
		},
		{
			name: "tombstone",
			r:    Record{Version: Version{Time: 300, DC: "a", Node: "B"}, Kind: KindTombstone},
			want: []byte{
				0x01,       // format v1
				0x02,       // flags: kind tombstone
				0xac, 0x02, // time 300
				0x01, 'a', // dc
				0x01, 'B', // node
			},
		},
		{
			name: "tombstone with expiry (buried value)",
			r:    Record{Version: Version{Time: 300, DC: "a", Node: "B"}, Kind: KindTombstone, ExpiresAt: 1000},
			want: []byte{0x01, 0x06, 0xac, 0x02, 0x01, 'a', 0x01, 'B', 0xe8, 0x07},
		},
		{
			name: "empty value, no expiry",
			r:    Record{Version: Version{Time: 127, DC: "x", Node: "y"}, Kind: KindValue, Value: []byte{}},
			want: []byte{0x01, 0x01, 0x7f, 0x01, 'x', 0x01, 'y'},
		},
		{
			name: "max time",
			r:    Record{Version: Version{Time: math.MaxInt64, DC: "x", Node: "y"}, Kind: KindValue, Value: []byte{0}},
			want: []byte{0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 'x', 0x01, 'y', 0x00},
		},
	}
	for _, g := range golden {
		t.Run(g.name, func(t *testing.T) {
			got := mustEncode(t, g.r)
			if !bytes.Equal(got, g.want) {
				t.Fatalf("encoding changed:\n got  % x\n want % x", got, g.want)
			}
			if EncodedRecordSize(g.r) != len(g.want) {
				t.Fatalf("EncodedRecordSize %d, golden length %d", EncodedRecordSize(g.r), len(g.want))
			}
			dec, err := DecodeRecord(g.want)
			requireNoErr(t, err)
			requireSame(t, g.r, dec, "decode golden")
		})
	}

	// A change wrapping the tombstone.
	c := Change{Key: []byte("user:42"), Record: golden[1].r}
	want := append([]byte{0x11, 0x07, 'u', 's', 'e', 'r', ':', '4', '2'}, golden[1].want...)
	got := mustEncodeChange(t, c)
	if !bytes.Equal(got, want) {
		t.Fatalf("change encoding changed:\n got  % x\n want % x", got, want)
	}
	dec, err := DecodeChange(want)
	requireNoErr(t, err)
	if string(dec.Key) != "user:42" {
		t.Fatalf("key %q", dec.Key)
	}
	requireSame(t, c.Record, dec.Record, "decode golden change")
}

// TestDecodeAcceptsNonMinimalVarints documents that the decoder accepts
// uvarints padded with continuation bytes (encoding/binary allows them), so
// one record has more than one accepted encoding; re-encoding yields the
// canonical, shorter form.
func TestDecodeAcceptsNonMinimalVarints(t *testing.T) {
	padded := []byte{0x01, 0x02, 0x81, 0x00, 0x01, 'a', 0x01, 'b'} // time 1 as two bytes
	r, err := DecodeRecord(padded)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("non-minimal varint rejected with the wrong error: %v", err)
		}
		return // a stricter decoder is fine too
	}
	canon := mustEncode(t, r)
	if len(canon) >= len(padded) {
		t.Fatalf("canonical encoding %x not shorter than padded %x", canon, padded)
	}
	if r2, err := DecodeRecord(canon); err != nil || !sameRecord(r, r2) {
		t.Fatalf("canonical form does not decode to the same record: %v", err)
	}
}
