package resp

import (
	"errors"
	"fmt"
)

// Sentinel errors, tested with errors.Is. Returned errors wrap them with
// detail.
//
// Every error returned by Reader.ReadCommand falls in exactly one of three
// classes:
//
//   - ErrTooLarge: the command broke a Limits bound but was skipped whole;
//     the stream is still in sync and the next ReadCommand reads the next
//     command. Reply with an error and carry on. IsRecoverable reports true.
//   - ErrProtocol (and the errors below that wrap it): the stream is
//     malformed or claims something above a hard cap. The connection is out
//     of sync; reply with an error and close it.
//   - I/O errors from the underlying reader, passed through unchanged, with
//     io.EOF between commands and io.ErrUnexpectedEOF inside one.
//
// No error wraps both ErrTooLarge and ErrProtocol.
var (
	// ErrProtocol is wrapped by every error caused by malformed input or by a
	// length claim above a hard cap. It is never recoverable.
	ErrProtocol = errors.New("resp: protocol error")
	// ErrTooLarge is wrapped by the recoverable error returned for a command
	// that broke a Limits bound and was skipped.
	ErrTooLarge = errors.New("resp: command too large")
	// ErrInvalidLimits is returned by Limits.Validate.
	ErrInvalidLimits = errors.New("resp: invalid limits")

	// ErrInvalidMultiBulkLength is returned for a bad array header: not a
	// number, a negative count other than -1, or a count above HardMaxArgs.
	ErrInvalidMultiBulkLength = fmt.Errorf("%w: invalid multibulk length", ErrProtocol)
	// ErrInvalidBulkLength is returned for a bad bulk string header: not a
	// number, a negative length other than -1, or a length above
	// HardMaxBulkLen.
	ErrInvalidBulkLength = fmt.Errorf("%w: invalid bulk length", ErrProtocol)
	// ErrExpectedBulk is returned when an element of a command array is not a
	// bulk string, including the null bulk string $-1.
	ErrExpectedBulk = fmt.Errorf("%w: expected bulk string", ErrProtocol)
	// ErrMissingCRLF is returned when a bulk string is not followed by CRLF or
	// a header line ends in a bare LF.
	ErrMissingCRLF = fmt.Errorf("%w: missing CRLF", ErrProtocol)
	// ErrUnexpectedType is returned when a command starts with a RESP type
	// byte other than '*' ('+', '-', ':', '$', RESP3 types) or a control
	// character, none of which can begin an inline command.
	ErrUnexpectedType = fmt.Errorf("%w: unexpected type byte", ErrProtocol)
	// ErrInlineTooLarge is returned for an inline command line longer than
	// Limits.MaxInlineSize. The rest of the line is not read, so it is not
	// recoverable (Redis closes the connection too).
	ErrInlineTooLarge = fmt.Errorf("%w: too big inline request", ErrProtocol)
	// ErrUnbalancedQuotes is returned for an inline command with an
	// unterminated quote, or a closing quote not followed by a space or the
	// end of the line.
	ErrUnbalancedQuotes = fmt.Errorf("%w: unbalanced quotes in request", ErrProtocol)
)

// IsRecoverable reports whether err, returned by Reader.ReadCommand, left the
// stream in sync so that the caller can reply with an error and read the
// next command. It is true only for ErrTooLarge errors.
func IsRecoverable(err error) bool {
	return err != nil && errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrProtocol)
}
