package check

import "errors"

// Sentinel errors returned by ReadHistory, wrapped with the line number.
// Callers test them with errors.Is.
var (
	// ErrMalformedLine is returned for a history line that is not a JSON
	// object of an Op.
	ErrMalformedLine = errors.New("check: malformed history line")
	// ErrUnknownKind is returned for an op whose kind is not put, delete or
	// get.
	ErrUnknownKind = errors.New("check: unknown op kind")
	// ErrUnknownOutcome is returned for an op whose outcome is not ok, fail
	// or unknown.
	ErrUnknownOutcome = errors.New("check: unknown op outcome")
	// ErrDuplicateID is returned for an op id seen earlier in the history.
	ErrDuplicateID = errors.New("check: duplicate op id")
)
