package lww

import (
	"encoding/binary"
	"math"
)

// Format bytes lead every encoding so the format can evolve: a decoder
// rejects a format it does not know instead of misreading it.
const (
	// FormatRecordV1 is the first record encoding.
	FormatRecordV1 byte = 0x01
	// FormatChangeV1 is the first change (key plus record) encoding.
	FormatChangeV1 byte = 0x11
)

// Record encoding, FormatRecordV1:
//
//	format   1 byte  0x01
//	flags    1 byte  bits 0-1 kind (1 value, 2 tombstone), bit 2 has expiry
//	time     uvarint event time (> 0)
//	dc       uvarint length, bytes (1..MaxNameLen)
//	node     uvarint length, bytes (1..MaxNameLen)
//	expiry   uvarint, only if flag bit 2 is set (> time)
//	value    the remaining bytes (empty for a tombstone)
const (
	flagKindMask  = 0x03
	flagHasExpiry = 0x04
	flagsKnown    = flagKindMask | flagHasExpiry
)

// MaxRecordOverhead is the most bytes a record encoding adds to its value.
const MaxRecordOverhead = 2 + 3*binary.MaxVarintLen64 + 2*(1+MaxNameLen)

// EncodedRecordSize returns the size AppendRecord will append for r.
func EncodedRecordSize(r Record) int {
	n := 2 + uvarintLen(uint64(r.Version.Time)) +
		uvarintLen(uint64(len(r.Version.DC))) + len(r.Version.DC) +
		uvarintLen(uint64(len(r.Version.Node))) + len(r.Version.Node) + len(r.Value)
	if r.ExpiresAt != 0 {
		n += uvarintLen(uint64(r.ExpiresAt))
	}
	return n
}

// AppendRecord appends the encoding of r to dst. r must be valid (see
// Record.Validate); an invalid record is rejected so nothing undecodable is
// ever written.
func AppendRecord(dst []byte, r Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	flags := byte(r.Kind)
	if r.ExpiresAt != 0 {
		flags |= flagHasExpiry
	}
	dst = append(dst, FormatRecordV1, flags)
	dst = binary.AppendUvarint(dst, uint64(r.Version.Time))
	dst = appendString(dst, r.Version.DC)
	dst = appendString(dst, r.Version.Node)
	if r.ExpiresAt != 0 {
		dst = binary.AppendUvarint(dst, uint64(r.ExpiresAt))
	}
	return append(dst, r.Value...), nil
}

// DecodeRecord decodes a record. The returned Value aliases b: copy it if b
// will be reused. Any malformed input gives an error wrapping ErrCorrupt or
// ErrUnknownFormat, never a panic.
func DecodeRecord(b []byte) (Record, error) {
	d := decoder{b: b}
	if len(b) == 0 {
		return Record{}, errorf(ErrCorrupt, "empty record")
	}
	if f := d.byte(); f != FormatRecordV1 {
		return Record{}, errorf(ErrUnknownFormat, "record format 0x%02x", f)
	}
	return d.record()
}

// Change is one entry of a shard's change log: a key and the record that won
// for it.
type Change struct {
	Key    []byte
	Record Record
}

// Change encoding, FormatChangeV1:
//
//	format   1 byte  0x11
//	key      uvarint length, bytes
//	record   a FormatRecordV1 record encoding (to the end)

// AppendChange appends the encoding of c to dst.
func AppendChange(dst []byte, c Change) ([]byte, error) {
	if len(c.Key) == 0 {
		return dst, errorf(ErrInvalidRecord, "empty key")
	}
	out := append(dst, FormatChangeV1)
	out = binary.AppendUvarint(out, uint64(len(c.Key)))
	out = append(out, c.Key...)
	out, err := AppendRecord(out, c.Record)
	if err != nil {
		return dst, err // like AppendRecord: nothing appended on error
	}
	return out, nil
}

// DecodeChange decodes a change. Key and Record.Value alias b.
func DecodeChange(b []byte) (Change, error) {
	d := decoder{b: b}
	if len(b) == 0 {
		return Change{}, errorf(ErrCorrupt, "empty change")
	}
	if f := d.byte(); f != FormatChangeV1 {
		return Change{}, errorf(ErrUnknownFormat, "change format 0x%02x", f)
	}
	key := d.bytes(math.MaxInt32)
	if d.err != nil || len(key) == 0 {
		return Change{}, errorf(ErrCorrupt, "change key")
	}
	f := d.byte()
	if d.err != nil {
		return Change{}, errorf(ErrCorrupt, "change has no record")
	}
	if f != FormatRecordV1 {
		return Change{}, errorf(ErrUnknownFormat, "change record format 0x%02x", f)
	}
	rec, err := d.record()
	if err != nil {
		return Change{}, err
	}
	return Change{Key: key, Record: rec}, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.b) {
		d.fail()
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	// Only the shortest (canonical) form is accepted, so every record has
	// exactly one encoding and replicas can compare encoded bytes.
	if n <= 0 || n != uvarintLen(v) {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) bytes(max int) []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(max) || n > uint64(len(d.b)-d.off) {
		d.fail()
		return nil
	}
	s := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return s
}

// rawRecord is a parsed record encoding whose byte fields alias the input.
type rawRecord struct {
	kind       Kind
	time, exp  int64
	dc, node   []byte
	value      []byte
	hasExpires bool
}

// raw parses and checks what follows a record's format byte, allocating
// nothing: every invariant Record.Validate checks is checked here too.
func (d *decoder) raw() (rawRecord, error) {
	flags := d.byte()
	t := d.uvarint()
	dc := d.bytes(MaxNameLen)
	node := d.bytes(MaxNameLen)
	var exp uint64
	if flags&flagHasExpiry != 0 {
		exp = d.uvarint()
	}
	if d.err != nil {
		return rawRecord{}, errorf(ErrCorrupt, "truncated record")
	}
	r := rawRecord{kind: Kind(flags & flagKindMask), time: int64(t), exp: int64(exp),
		dc: dc, node: node, value: d.b[d.off:], hasExpires: flags&flagHasExpiry != 0}
	switch {
	case flags&^flagsKnown != 0, t > math.MaxInt64, exp > math.MaxInt64,
		r.hasExpires && exp == 0:
		return rawRecord{}, errorf(ErrCorrupt, "bad record header")
	case r.kind != KindValue && r.kind != KindTombstone:
		return rawRecord{}, errorf(ErrCorrupt, "unknown kind %d", r.kind)
	case r.time <= 0:
		return rawRecord{}, errorf(ErrCorrupt, "event time %d", r.time)
	case r.kind == KindTombstone && len(r.value) != 0:
		return rawRecord{}, errorf(ErrCorrupt, "tombstone carries a value")
	case r.hasExpires && r.exp <= r.time:
		return rawRecord{}, errorf(ErrCorrupt, "expiry %d not after event time %d", r.exp, r.time)
	case !validNameBytes(dc), !validNameBytes(node):
		return rawRecord{}, errorf(ErrCorrupt, "bad origin name")
	}
	return r, nil
}

// record decodes what follows a record's format byte.
func (d *decoder) record() (Record, error) {
	raw, err := d.raw()
	if err != nil {
		return Record{}, err
	}
	r := Record{
		Version:   Version{Time: raw.time, DC: string(raw.dc), Node: string(raw.node)},
		Kind:      raw.kind,
		ExpiresAt: raw.exp,
	}
	if len(raw.value) > 0 {
		r.Value = raw.value
	} else if r.Kind == KindValue {
		r.Value = []byte{}
	}
	return r, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Header is what a read needs of a record: everything but the origin names.
type Header struct {
	Kind      Kind
	Time      int64
	ExpiresAt int64
}

// Live reports whether the record is a value that has not expired at now.
func (h Header) Live(now int64) bool {
	return h.Kind == KindValue && (h.ExpiresAt == 0 || h.ExpiresAt > now)
}

// PeekRecord decodes a record's header and returns its value, aliasing b,
// without allocating: the read path uses it where the origin is not needed.
// It accepts exactly what DecodeRecord accepts.
func PeekRecord(b []byte) (Header, []byte, error) {
	d := decoder{b: b}
	if len(b) == 0 {
		return Header{}, nil, errorf(ErrCorrupt, "empty record")
	}
	if f := d.byte(); f != FormatRecordV1 {
		return Header{}, nil, errorf(ErrUnknownFormat, "record format 0x%02x", f)
	}
	raw, err := d.raw()
	if err != nil {
		return Header{}, nil, err
	}
	return Header{Kind: raw.kind, Time: raw.time, ExpiresAt: raw.exp}, raw.value, nil
}
