package resp

import "fmt"

// Default limits, used by DefaultLimits and for zero fields of Limits.
const (
	// DefaultMaxArgs is the default for Limits.MaxArgs.
	DefaultMaxArgs = 1 << 16
	// DefaultMaxArgSize is the default for Limits.MaxArgSize, 1 MiB.
	DefaultMaxArgSize = 1 << 20
	// DefaultMaxInlineSize is the default for Limits.MaxInlineSize, 64 KiB
	// (Redis's PROTO_INLINE_MAX_SIZE).
	DefaultMaxInlineSize = 64 << 10
	// DefaultMaxCommandSize is the default for Limits.MaxCommandSize, 64 MiB.
	DefaultMaxCommandSize = 64 << 20
)

// Hard caps. A length claim above HardMaxArgs or HardMaxBulkLen is not
// skipped but rejected with ErrProtocol: skipping it would mean reading up to
// that much from a client that is most likely not speaking RESP at all.
// Limits fields may not exceed their hard cap.
const (
	// HardMaxArgs caps an array header's element count and Limits.MaxArgs.
	HardMaxArgs = 1 << 20
	// HardMaxBulkLen caps a bulk string header's length and
	// Limits.MaxArgSize: 512 MiB, Redis's default proto-max-bulk-len.
	HardMaxBulkLen = 512 << 20
	// HardMaxInlineSize caps Limits.MaxInlineSize, 16 MiB.
	HardMaxInlineSize = 16 << 20
	// HardMaxCommandSize caps Limits.MaxCommandSize, 1 GiB.
	HardMaxCommandSize = 1 << 30
)

// Limits bounds what a client can make the server allocate. Every bound is
// checked before anything is allocated for the data it covers.
//
// A zero field means the default. Validate rejects negative fields and
// fields above their hard cap; NewReader does not fail but replaces negative
// fields by the default and lowers fields above a hard cap to the cap.
type Limits struct {
	// MaxArgs is the most arguments (array elements or inline words) in one
	// command.
	MaxArgs int
	// MaxArgSize is the most bytes in one argument.
	MaxArgSize int
	// MaxInlineSize is the most bytes in one inline command line, not
	// counting its CRLF or LF terminator.
	MaxInlineSize int
	// MaxCommandSize is the most bytes in all arguments of one command
	// together, not counting RESP framing.
	MaxCommandSize int
}

// DefaultLimits returns the default limits: 65536 arguments, 1 MiB per
// argument, 64 KiB inline lines and 64 MiB per command.
func DefaultLimits() Limits {
	return Limits{
		MaxArgs:        DefaultMaxArgs,
		MaxArgSize:     DefaultMaxArgSize,
		MaxInlineSize:  DefaultMaxInlineSize,
		MaxCommandSize: DefaultMaxCommandSize,
	}
}

// Validate returns an error wrapping ErrInvalidLimits if a field is negative
// or above its hard cap. Zero fields are valid and mean the default.
func (l Limits) Validate() error {
	for _, f := range l.fields() {
		if *f.v < 0 || *f.v > f.hard {
			return fmt.Errorf("%w: %s is %d, want 0 (default) to %d", ErrInvalidLimits, f.name, *f.v, f.hard)
		}
	}
	return nil
}

// normalized returns l with zero and negative fields set to their default
// and fields above a hard cap lowered to it.
func (l Limits) normalized() Limits {
	for _, f := range l.fields() {
		switch {
		case *f.v <= 0:
			*f.v = f.def
		case *f.v > f.hard:
			*f.v = f.hard
		}
	}
	return l
}

// limitField describes one field of Limits for validation.
type limitField struct {
	name      string
	v         *int
	def, hard int
}

// fields lists the fields of l, pointing into l.
func (l *Limits) fields() [4]limitField {
	return [4]limitField{
		{"MaxArgs", &l.MaxArgs, DefaultMaxArgs, HardMaxArgs},
		{"MaxArgSize", &l.MaxArgSize, DefaultMaxArgSize, HardMaxBulkLen},
		{"MaxInlineSize", &l.MaxInlineSize, DefaultMaxInlineSize, HardMaxInlineSize},
		{"MaxCommandSize", &l.MaxCommandSize, DefaultMaxCommandSize, HardMaxCommandSize},
	}
}
